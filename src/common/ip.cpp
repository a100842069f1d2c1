#include "common/ip.h"

#include <arpa/inet.h>

#include <charconv>

namespace podnet {

Result<Ipv4> Ipv4::parse(std::string_view text) {
  // inet_pton is strict: four decimal octets, no leading/trailing junk.
  std::string buf(text);
  in_addr raw{};
  if (buf.empty() || inet_pton(AF_INET, buf.c_str(), &raw) != 1) {
    return makeError(Errc::kInvalidArgument, "\"" + buf + "\" is not an IPv4 address");
  }
  return Ipv4{ntohl(raw.s_addr)};
}

std::string Ipv4::str() const {
  in_addr raw{htonl(value)};
  char out[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &raw, out, sizeof(out));
  return out;
}

Result<Ipv4Prefix> Ipv4Prefix::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    return makeError(Errc::kInvalidArgument,
                     "\"" + std::string(text) + "\" is not a CIDR (expected a.b.c.d/len)");
  }
  auto addr = Ipv4::parse(text.substr(0, slash));
  if (!addr) return addr.error().context("CIDR \"" + std::string(text) + "\"");
  std::string_view len_text = text.substr(slash + 1);
  unsigned len = 0;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (len_text.empty() || ec != std::errc{} || end != len_text.data() + len_text.size() ||
      len > 32) {
    return makeError(Errc::kInvalidArgument,
                     "CIDR \"" + std::string(text) + "\": prefix length must be 0..32");
  }
  return Ipv4Prefix{*addr, static_cast<uint8_t>(len)};
}

std::string Ipv4Prefix::str() const {
  return addr.str() + "/" + std::to_string(len);
}

}  // namespace podnet
