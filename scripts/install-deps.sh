#!/usr/bin/env bash
# Installs the Debian packages vswitch needs to build, test, demo and benchmark.
# Idempotent and quiet: when nothing is missing it only runs dpkg-query.
#   --ovs  also Open vSwitch with DPDK (make bench PEERS=ovs), without starting its service
set -euo pipefail

installed() {
  local status
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null || true)
  [[ $status == ii* ]]
}

# openvswitch-switch-dpdk for the benchmark's OVS peer. The benchmark runs its own
# ovsdb-server and ovs-vswitchd-dpdk in a private run directory; the package's postinst would
# start the system service (invoke-rc.d), so a policy-rc.d that denies every start (exit 101)
# is in place while apt runs, and whatever policy-rc.d was there before comes back.
install_ovs() {
  installed openvswitch-switch-dpdk && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: openvswitch-switch-dpdk missing; run as root" >&2
    exit 1
  fi
  local policy=/usr/sbin/policy-rc.d saved=""
  if [[ -e $policy ]]; then
    saved=$(mktemp /usr/sbin/policy-rc.d.vsw-saved.XXXXXX)
    cp -p "$policy" "$saved"
  fi
  restore_policy() {
    if [[ -n $saved ]]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi
  }
  trap restore_policy EXIT
  printf '#!/bin/sh\n# vswitch install-deps: no service starts while OVS is installed\nexit 101\n' \
    >"$policy"
  chmod 755 "$policy"
  echo "install-deps: installing openvswitch-switch-dpdk (its system service is not started)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends \
    openvswitch-switch-dpdk >/dev/null
  restore_policy
  trap - EXIT
  # The system service must not run: the benchmark's OVS is private. Report, do not guess.
  local pidfile
  for pidfile in /var/run/openvswitch/ovsdb-server.pid /var/run/openvswitch/ovs-vswitchd.pid; do
    if [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "install-deps: the system's OVS runs ($pidfile); stop it: /usr/share/openvswitch/scripts/ovs-ctl stop" >&2
      exit 1
    fi
  done
}

if [[ ${1:-} == --ovs ]]; then
  install_ovs
  exit 0
fi

packages=(
  # build
  cmake ninja-build g++ pkg-config clang-format
  dpdk dpdk-dev libdpdk-dev libbpf-dev libxdp-dev
  libboost-dev protobuf-compiler libprotobuf-dev libgrpc++-dev protobuf-compiler-grpc
  libgtest-dev libgmock-dev libbenchmark-dev
  # fuzzing (tests/fuzz): clang with libFuzzer and the sanitizer runtimes
  clang-14 libclang-rt-14-dev
  # tests: real peers
  python3 python3-scapy python3-grpcio python3-grpc-tools python3-protobuf
  iproute2 iputils-ping traceroute tcpdump netcat-openbsd iperf3 procps kmod curl openssl util-linux
  # guests and benchmark plots
  qemu-system-x86 cpio busybox-static gnuplot-nox
  # capture files: tests read them back with tshark
  tshark
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
