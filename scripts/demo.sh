#!/usr/bin/env bash
# The demo: vsw-dataplane and vsw-controld, two tap ports cross-connected through vswctl,
# two network namespaces pinging through the switch, three namespaces and two QEMU guests on
# a bridge, the counters, a dataplane restart that controld repairs on its own, and a clean
# exit. Everything it starts it also stops.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VSW_BIN:-$PWD/build/bin}
WORK=$(mktemp -d /tmp/vsw-demo.XXXXXX)
RUN=$WORK/run STATE=$WORK/state
NS_A=vswdemo-a NS_B=vswdemo-b
BRIDGE_NS=(vswdemo-1 vswdemo-2 vswdemo-3)
DP_PID= CTL_PID=
GUEST_PIDS=()
GUEST_CACHE=${VSW_GUEST_CACHE:-/var/cache/vswitch/guest}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
stop_pid() { [[ -n $1 ]] && kill -TERM "$1" 2>/dev/null && wait "$1" 2>/dev/null || true; }
cleanup() {
  for pid in "${GUEST_PIDS[@]}"; do stop_pid "$pid"; done
  stop_pid "$CTL_PID"
  stop_pid "$DP_PID"
  for ns in "$NS_A" "$NS_B" "${BRIDGE_NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$WORK" /var/run/dpdk/vswdemo  # EAL keeps a runtime dir per --file-prefix
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for ns in "$NS_A" "$NS_B" "${BRIDGE_NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done

vswctl() { "$BIN/vswctl" --run-dir "$RUN" "$@"; }
start_dataplane() {
  "$BIN/vsw-dataplane" -l 0,1 --main-lcore 0 --no-pci --file-prefix vswdemo -- --run-dir "$RUN" \
    >>"$WORK/dataplane.log" 2>&1 &
  DP_PID=$!
}
wait_ready() {
  for _ in $(seq 300); do vswctl status >/dev/null 2>&1 && return 0; sleep 0.1; done
  vswctl status
}

step "Starting vsw-dataplane (worker on CPU 1) and vsw-controld; logs in $WORK"
mkdir -p "$RUN"
start_dataplane
"$BIN/vsw-controld" --run-dir "$RUN" --state-dir "$STATE" >"$WORK/controld.log" 2>&1 &
CTL_PID=$!
wait_ready
vswctl status

step "Two tap ports; each kernel end goes into its own network namespace"
vswctl port add a --type tap --iface vswdemo0
vswctl port add b --type tap --iface vswdemo1
for pair in "$NS_A vswdemo0 10.250.0.1" "$NS_B vswdemo1 10.250.0.2"; do
  read -r ns ifc addr <<<"$pair"
  ip netns add "$ns"
  ip link set "$ifc" netns "$ns"
  ip -n "$ns" addr add "$addr/24" dev "$ifc"
  ip -n "$ns" link set "$ifc" up
  echo "  $ns: $ifc $addr/24"
done

step "Cross-connect a <-> b: everything received on one port leaves by the other"
vswctl xconnect add a b
vswctl xconnect list

step "ping $NS_A -> $NS_B and back"
ip netns exec "$NS_A" ping -c 3 -W 2 10.250.0.2
ip netns exec "$NS_B" ping -c 3 -W 2 10.250.0.1

step "A bridge: three more namespaces on tap ports of br0 (MAC learning, flow cache)"
vswctl bridge add br0
for i in 1 2 3; do
  vswctl port add "h$i" --type tap --iface "vswdemob$i"
  vswctl bridge attach br0 "h$i"
  ns=${BRIDGE_NS[$((i - 1))]}
  ip netns add "$ns"
  ip link set "vswdemob$i" netns "$ns"
  ip -n "$ns" addr add "10.251.0.$i/24" dev "vswdemob$i"
  ip -n "$ns" link set "vswdemob$i" up
done
for i in 2 3; do ip netns exec "${BRIDGE_NS[0]}" ping -c 2 -W 2 "10.251.0.$i" | tail -2; done
ip netns exec "${BRIDGE_NS[1]}" ping -c 2 -W 2 10.251.0.3 | tail -2
vswctl bridge list
vswctl mac list br0
echo "  (each namespace's MAC was learned on its port; the kernel's view from ${BRIDGE_NS[0]}:)"
ip -n "${BRIDGE_NS[0]}" neigh show
vswctl flow stats

step "Two QEMU guests on vhost-user ports of the same bridge"
guest/build-image.sh "$GUEST_CACHE"
if grep -qE 'vmx|svm' /proc/cpuinfo && [[ -w /dev/kvm ]]; then
  accel=(-accel kvm -cpu host)
else
  accel=(-accel tcg -cpu max)
  echo "  warning: no hardware virtualization here (no vmx/svm): the guests run under software"
  echo "  emulation (TCG), good for seeing them work, not for measuring the switch"
fi
boot_guest() {  # NAME MAC CIDR COMMAND
  local sock
  sock=$(vswctl --json port show "$1" | sed -n 's/.*"socket":"\([^"]*\)".*/\1/p')
  qemu-system-x86_64 "${accel[@]}" -m 256 -smp 1 -nodefaults -no-user-config -display none \
    -no-reboot -object memory-backend-memfd,id=mem,size=256M,share=on \
    -machine q35,memory-backend=mem -kernel "$GUEST_CACHE/vmlinuz" \
    -initrd "$GUEST_CACHE/initrd.img" \
    -append "console=ttyS0 quiet panic=-1 vsw.ip=$3 vsw.run=\"$4\"" \
    -chardev "socket,id=c0,path=$sock,reconnect=1" -netdev vhost-user,id=n0,chardev=c0 \
    -device "virtio-net-pci,netdev=n0,mac=$2,vectors=0" -serial "file:$WORK/$1.serial" \
    >"$WORK/$1.qemu.log" 2>&1 &
  GUEST_PIDS+=($!)
}
wait_serial() {  # NAME TEXT
  for _ in $(seq 1800); do grep -q "$2" "$WORK/$1.serial" 2>/dev/null && return 0; sleep 0.1; done
  echo "  $1 did not get to '$2'; its console:"; tail -20 "$WORK/$1.serial"; return 1
}
for vm in vm1 vm2; do
  vswctl port add "$vm" --type vhost-user
  vswctl bridge attach br0 "$vm"
done
boot_guest vm1 02:00:00:00:02:01 10.251.0.11/24 "iperf3 -s -D"
wait_serial vm1 "vsw-guest: ready"
echo "  vm1 is up (10.251.0.11, iperf3 server); vm2 boots, pings vm1 and runs iperf3 for 3 s:"
boot_guest vm2 02:00:00:00:02:02 10.251.0.12/24 \
  "ping -c 3 10.251.0.11 && iperf3 -c 10.251.0.11 -t 3"
wait_serial vm2 "vsw-guest: exit status"
grep -E "bytes from|packets transmitted|sender|receiver|exit status" "$WORK/vm2.serial" | sed 's/^/  vm2: /'
vswctl mac list br0

step "Counters: per port, and per worker (busy cycles per packet)"
vswctl stats

step "kill -9 the dataplane; controld keeps the desired state and reprograms a new one"
kill -9 "$DP_PID"
wait "$DP_PID" 2>/dev/null || true
sleep 0.5
vswctl status || true
echo "  (a tap interface disappears with the process that owns it: recreating the namespaces' ends)"
start_dataplane
wait_ready
for pair in "$NS_A vswdemo0 10.250.0.1" "$NS_B vswdemo1 10.250.0.2"; do
  read -r ns ifc addr <<<"$pair"
  for _ in $(seq 100); do ip link show "$ifc" >/dev/null 2>&1 && break; sleep 0.1; done
  ip link set "$ifc" netns "$ns"
  ip -n "$ns" addr add "$addr/24" dev "$ifc"
  ip -n "$ns" link set "$ifc" up
done
vswctl port list
ip netns exec "$NS_A" ping -c 3 -W 2 10.250.0.2
echo "  (the bridge, its attachments and ports came back too: $(vswctl bridge list | tail -n +2))"

step "Stopping: controld, then the dataplane (workers stop, ports close, sockets go)"
stop_pid "$CTL_PID"; CTL_PID=
kill -TERM "$DP_PID"
wait "$DP_PID" && echo "  vsw-dataplane exited 0"
DP_PID=
