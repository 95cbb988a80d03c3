#!/usr/bin/env bash
# The demo: vsw-dataplane and vsw-controld, two tap ports cross-connected through vswctl,
# two network namespaces pinging through the switch, three namespaces on a bridge, two QEMU
# guests (launched by controld: vswctl vm) on two bridges joined by the router, a stateful
# firewall letting a connection in one way and not the other, the
# counters, a dataplane restart that controld repairs on its own, and a clean exit. Everything it starts it also stops, unless
# KEEP=1 (then it says how to take it down).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VSW_BIN:-$PWD/build/bin}
WORK=$(mktemp -d /tmp/vsw-demo.XXXXXX)
RUN=$WORK/run STATE=$WORK/state
NS_A=vswdemo-a NS_B=vswdemo-b
BRIDGE_NS=(vswdemo-1 vswdemo-2 vswdemo-3)
DP_PID= CTL_PID=
GUEST_CACHE=${VSW_GUEST_CACHE:-/var/cache/vswitch/guest}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
stop_pid() { [[ -n $1 ]] && kill -TERM "$1" 2>/dev/null && wait "$1" 2>/dev/null || true; }
kill_guests() {  # the guests controld started and left running (by their recorded pids)
  local f pid
  for f in "$RUN"/vms/*/qemu.pid; do
    [[ -f $f ]] || continue
    pid=$(cat "$f")
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$(dirname "$f")/qmp.sock" &&
      kill -KILL "$pid" 2>/dev/null || true
  done
}
cleanup() {
  stop_pid "$CTL_PID"
  kill_guests
  stop_pid "$DP_PID"
  for ns in "$NS_A" "$NS_B" "${BRIDGE_NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$WORK" /var/run/dpdk/vswdemo  # EAL keeps a runtime dir per --file-prefix
}
trap cleanup EXIT
# KEEP=1: what cleanup does, as a script to run later.
write_down_script() {
  cat >"$WORK/down.sh" <<DOWN
#!/usr/bin/env bash
# Takes the demo down: guests, controld, dataplane, namespaces, files.
for f in $RUN/vms/*/qemu.pid; do [[ -f \$f ]] && kill -KILL "\$(cat "\$f")" 2>/dev/null; done
kill -TERM $CTL_PID $DP_PID 2>/dev/null
while kill -0 $DP_PID 2>/dev/null; do sleep 0.2; done
for ns in $NS_A $NS_B ${BRIDGE_NS[*]}; do ip netns del "\$ns" 2>/dev/null; done
rm -rf $WORK /var/run/dpdk/vswdemo
echo "demo taken down"
DOWN
}
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

step "The firewall: h2 (10.251.0.2) lets in TCP 5201 and ping from h1 only; the rest is denied"
vswctl acl add h2 --dir to-port --priority 100 --action permit-stateful --proto tcp \
  --src 10.251.0.1/32 --dport 5201 >/dev/null
vswctl acl add h2 --dir to-port --priority 90 --action permit-stateful --proto icmp \
  --src 10.251.0.1/32 >/dev/null
vswctl acl default h2 --dir to-port deny
vswctl acl list h2
# Bounded listeners (timeout) with their pids, so nothing outlives the demo.
ip netns exec "${BRIDGE_NS[1]}" timeout 20 iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do ip netns exec "${BRIDGE_NS[1]}" ss -Hltn 'sport = :5201' | grep -q . && break; sleep 0.1; done
echo "  h1 -> h2:5201 (iperf3, 1 s): allowed, and its replies pass as part of the connection"
ip netns exec "${BRIDGE_NS[0]}" iperf3 -c 10.251.0.2 -p 5201 -t 1 | grep -E "sender|receiver"
wait "$SERVER_PID" || true
echo "  h1 pings h2: allowed"
ip netns exec "${BRIDGE_NS[0]}" ping -c 2 -W 2 10.251.0.2 | tail -2
echo "  h3 pings h2 and connects to h2:5201: denied"
ip netns exec "${BRIDGE_NS[2]}" ping -c 2 -W 1 10.251.0.2 | tail -2 || true
ip netns exec "${BRIDGE_NS[2]}" nc -z -w 2 10.251.0.2 5201 && echo "  connected?!" ||
  echo "  h3 -> h2:5201: no connection"
echo "  h2 opens a connection to h1:7000: its SYN leaves, but h1's answer is not let back in"
ip netns exec "${BRIDGE_NS[0]}" timeout 10 nc -l 7000 >/dev/null 2>&1 &
LISTEN_PID=$!
for _ in $(seq 50); do ip netns exec "${BRIDGE_NS[0]}" ss -Hltn 'sport = :7000' | grep -q . && break; sleep 0.1; done
ip netns exec "${BRIDGE_NS[1]}" nc -z -w 2 10.251.0.1 7000 && echo "  connected?!" ||
  echo "  h2 -> h1:7000: no connection (the SYN-ACK is dropped at h2's port)"
kill "$LISTEN_PID" 2>/dev/null; wait "$LISTEN_PID" 2>/dev/null || true
vswctl conn list h2
vswctl port show h2 | grep -E "^ *(drops|acl_deny|ct_invalid)"

step "The router: a second bridge, br1, joined to br0 by router interfaces"
vswctl bridge add br1
vswctl router-if add r0 --bridge br0 --ip 10.251.0.254/24
vswctl router-if add r1 --bridge br1 --ip 10.252.0.254/24
vswctl route list

step "Two QEMU guests, launched by controld (vswctl vm): vm1 on br0, vm2 on br1"
guest/build-image.sh "$GUEST_CACHE"
for pair in "vm1 br0" "vm2 br1"; do
  read -r vm br <<<"$pair"
  # Client mode: QEMU listens on the socket, so a restarted dataplane finds the guest again.
  vswctl port add "$vm" --type vhost-user --mode client --socket "$WORK/$vm.sock"
  vswctl bridge attach "$br" "$vm"
done
wait_console() {  # NAME TEXT
  for _ in $(seq 1800); do vswctl vm console "$1" 2>/dev/null | grep -q "$2" && return 0; sleep 0.1; done
  echo "  $1 did not get to '$2'; its console:"; vswctl vm console "$1" | tail -20; return 1
}
vswctl vm add vm1 --port vm1 --ip 10.251.0.11/24 --gw 10.251.0.254 --cmdline 'vsw.run="iperf3 -s -D"'
wait_console vm1 "vsw-guest: ready"
echo "  vm1 is up (10.251.0.11 on br0, iperf3 server); vm2 (10.252.0.12 on br1) boots, pings"
echo "  vm1 across the router and runs iperf3 for 3 s:"
vswctl vm add vm2 --port vm2 --ip 10.252.0.12/24 --gw 10.252.0.254 \
  --cmdline 'vsw.run="ping -c 3 10.251.0.11 && iperf3 -c 10.251.0.11 -t 3"'
wait_console vm2 "vsw-guest: exit status"
vswctl vm console vm2 | grep -E "bytes from|packets transmitted|sender|receiver|exit status" |
  sed 's/^/  vm2: /'
vswctl vm list
vswctl mac list br1
vswctl neigh list

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
echo "  (the guests never noticed: the new dataplane connected to their sockets again)"
vswctl vm list

if [[ ${KEEP:-0} == 1 ]]; then
  write_down_script
  step "Left running (KEEP=1). Try: VSW_RUN_DIR=$RUN $BIN/vswctl vm list"
  echo "  Take it all down with: bash $WORK/down.sh"
  trap - EXIT
  exit 0
fi

step "Guests: an ACPI power-down through QMP, then deleted"
vswctl vm stop vm1
vswctl vm del vm1
vswctl vm del vm2

step "Stopping: controld, then the dataplane (workers stop, ports close, sockets go)"
stop_pid "$CTL_PID"; CTL_PID=
kill -TERM "$DP_PID"
wait "$DP_PID" && echo "  vsw-dataplane exited 0"
DP_PID=
