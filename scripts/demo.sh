#!/usr/bin/env bash
# The demo: vsw-dataplane with two tap ports cross-connected, two network namespaces pinging
# through it, the port counters, and a clean exit. Everything it starts it also stops.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VSW_BIN:-$PWD/build/bin}
RUN=$(mktemp -d /tmp/vsw-demo.XXXXXX)
NS_A=vswdemo-a NS_B=vswdemo-b
DP_PID=

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
  [[ -n $DP_PID ]] && kill -TERM "$DP_PID" 2>/dev/null && wait "$DP_PID" 2>/dev/null || true
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns del "$NS_A" 2>/dev/null || true
ip netns del "$NS_B" 2>/dev/null || true

step "Starting vsw-dataplane (main lcore 0, one worker on lcore 1); log: $RUN/dataplane.log"
"$BIN/vsw-dataplane" -l 0,1 --main-lcore 0 --no-pci --file-prefix vswdemo -- --run-dir "$RUN" \
  >"$RUN/dataplane.log" 2>&1 &
DP_PID=$!
for _ in $(seq 150); do [[ -S $RUN/dataplane.sock ]] && break; sleep 0.2; done
grep -E 'memory:|ready:' "$RUN/dataplane.log" | sed 's/^/  /'
dpctl() { "$BIN/vsw-dpctl" --run-dir "$RUN" "$@"; }

step "Two tap ports, each with its kernel end in a network namespace"
dpctl port add a --type tap --iface vswdemo0
dpctl port add b --type tap --iface vswdemo1
for pair in "$NS_A vswdemo0 10.250.0.1" "$NS_B vswdemo1 10.250.0.2"; do
  read -r ns ifc addr <<<"$pair"
  ip netns add "$ns"
  ip link set "$ifc" netns "$ns"
  ip -n "$ns" addr add "$addr/24" dev "$ifc"
  ip -n "$ns" link set "$ifc" up
  echo "  $ns: $ifc $addr/24"
done

step "Cross-connect a <-> b: everything received on one port leaves by the other"
dpctl xconnect add a b
dpctl xconnect list

step "ping from $NS_A to $NS_B, and back"
ip netns exec "$NS_A" ping -c 3 -W 2 10.250.0.2
ip netns exec "$NS_B" ping -c 3 -W 2 10.250.0.1

step "Port and worker counters"
dpctl stats

step "Stopping (SIGTERM): workers stop, ports close, sockets are removed"
kill -TERM "$DP_PID"
wait "$DP_PID" && echo "  vsw-dataplane exited 0"
DP_PID=
