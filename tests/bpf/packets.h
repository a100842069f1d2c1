// Crafted packets for BPF_PROG_RUN: Ethernet + IPv4 + TCP/UDP/SCTP/ICMP, plus ARP and IPv6
// frames. Checksums are left zero: the pod device program never reads them.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/ip.h"

namespace podnet::bpf::testing {

inline constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpAck = 0x10;
inline constexpr uint8_t kProtoIcmp = 1, kProtoTcp = 6, kProtoUdp = 17, kProtoSctp = 132;

struct Packet {
  std::string src;
  std::string dst;
  uint8_t protocol = kProtoTcp;
  uint16_t sport = 40000;
  uint16_t dport = 80;
  uint8_t tcpFlags = kTcpSyn;
  uint8_t icmpType = 8;  // echo request
  uint16_t icmpId = 7;
  bool laterFragment = false;
  bool truncateL4 = false;  // cut the L4 header short
  uint16_t etherType = 0x0800;
};

inline Packet tcp(std::string src, std::string dst, uint16_t sport, uint16_t dport,
                  uint8_t flags = kTcpSyn) {
  return Packet{std::move(src), std::move(dst), kProtoTcp, sport, dport, flags};
}
inline Packet udp(std::string src, std::string dst, uint16_t sport, uint16_t dport) {
  return Packet{std::move(src), std::move(dst), kProtoUdp, sport, dport, 0};
}
inline Packet icmpEcho(std::string src, std::string dst, bool reply = false) {
  Packet p{std::move(src), std::move(dst), kProtoIcmp, 0, 0, 0};
  p.icmpType = reply ? 0 : 8;
  return p;
}

inline Packet arp() {
  Packet p;
  p.etherType = 0x0806;
  return p;
}
inline Packet ipv6() {
  Packet p;
  p.etherType = 0x86dd;
  return p;
}
inline Packet truncated(Packet p) {
  p.truncateL4 = true;
  return p;
}
inline Packet laterFragment(Packet p) {
  p.laterFragment = true;
  return p;
}

inline void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  uint16_t n = htons(v);
  std::memcpy(&b[at], &n, 2);
}

inline std::vector<uint8_t> build(const Packet& p) {
  std::vector<uint8_t> b(14, 0);
  const uint8_t dstMac[6] = {0xee, 0xee, 0xee, 0xee, 0xee, 0xee};
  const uint8_t srcMac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  std::memcpy(&b[0], dstMac, 6);
  std::memcpy(&b[6], srcMac, 6);
  put16(b, 12, p.etherType);
  if (p.etherType == 0x0806) {  // ARP request
    b.resize(14 + 28, 0);
    return b;
  }
  if (p.etherType == 0x86dd) {  // IPv6: version 6, no payload
    b.resize(14 + 40, 0);
    b[14] = 0x60;
    return b;
  }
  size_t l4len = p.protocol == kProtoTcp ? 20 : 8;
  size_t payload = 16;
  size_t ip = b.size();
  b.resize(ip + 20 + l4len + payload, 0);
  b[ip] = 0x45;
  put16(b, ip + 2, static_cast<uint16_t>(20 + l4len + payload));
  put16(b, ip + 6, p.laterFragment ? 185 : 0x4000);  // offset 185*8, or DF
  b[ip + 8] = 64;
  b[ip + 9] = p.protocol;
  uint32_t s = htonl(Ipv4::parse(p.src)->value);
  uint32_t d = htonl(Ipv4::parse(p.dst)->value);
  std::memcpy(&b[ip + 12], &s, 4);
  std::memcpy(&b[ip + 16], &d, 4);
  size_t l4 = ip + 20;
  if (p.protocol == kProtoIcmp) {
    b[l4] = p.icmpType;
    put16(b, l4 + 4, p.icmpId);
  } else {
    put16(b, l4, p.sport);
    put16(b, l4 + 2, p.dport);
    if (p.protocol == kProtoTcp) {
      b[l4 + 12] = 0x50;
      b[l4 + 13] = p.tcpFlags;
      put16(b, l4 + 14, 64240);
    }
  }
  if (p.truncateL4) b.resize(l4 + 4);
  return b;
}

}  // namespace podnet::bpf::testing
