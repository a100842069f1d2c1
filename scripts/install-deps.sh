#!/usr/bin/env bash
# Installs every Debian package podnet needs to build, run and test. Safe to run again.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  googletest libgtest-dev libbenchmark-dev
  nlohmann-json3-dev libspdlog-dev libcli11-dev libyaml-dev
  libnl-3-dev libnl-route-3-dev libmnl-dev libsqlite3-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc etcd-server
  libcurl4-openssl-dev libssl-dev openssl
  iproute2 iputils-ping iptables socat procps iperf3
  libbpf-dev bpftool linux-libc-dev
  containernetworking-plugins
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "podnet: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
