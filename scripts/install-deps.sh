#!/usr/bin/env bash
# Installs the Debian packages vswitch needs to build, test, demo and benchmark.
# Idempotent and quiet: when nothing is missing it only runs dpkg-query.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config clang-format
  dpdk dpdk-dev libdpdk-dev libbpf-dev libxdp-dev
  libboost-dev protobuf-compiler libprotobuf-dev libgrpc++-dev protobuf-compiler-grpc
  libgtest-dev libgmock-dev libbenchmark-dev
  # tests: real peers
  python3 python3-scapy python3-grpcio python3-grpc-tools python3-protobuf
  iproute2 iputils-ping tcpdump netcat-openbsd iperf3 procps kmod
  # guests and benchmark plots
  qemu-system-x86 cpio busybox-static gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ $status == ii* ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or: sudo make deps)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
