#!/bin/bash
# Runs pipeline_bench on 2 MiB hugepages, the memory the dataplane uses unless told
# --no-huge: reserves the pages (vm.nr_hugepages + what the run needs), mounts a hugetlbfs
# holding exactly them in a private mount namespace (nobody else sees or takes them), runs,
# and gives the pages back. Where that cannot be done (not root, the kernel grants fewer
# pages) it says so and runs --no-huge. Arguments go to pipeline_bench.
#
#   bench/pipeline.sh --benchmark_filter='BM_Routed'
#   PIPELINE_BENCH=/path/to/pipeline_bench bench/pipeline.sh
set -euo pipefail

BIN=${PIPELINE_BENCH:-$(dirname "$0")/../build/bin/pipeline_bench}
# pipeline_bench asks EAL for -m 2048; EAL takes a few pages more for itself.
MIB=2176
PAGES=$((MIB / 2))
SYSFS=/sys/kernel/mm/hugepages/hugepages-2048kB
ARGS=("$@")

no_huge() {
  echo "pipeline.sh: $1: running --no-huge (4 KiB pages; slower per packet, see bench/README.md)" >&2
  exec "$BIN" "${ARGS[@]}"
}

[ "$(id -u)" = 0 ] || no_huge "not root"
[ -w "$SYSFS/nr_hugepages" ] || no_huge "no 2 MiB hugepage pool"

old=$(cat "$SYSFS/nr_hugepages")
free_before=$(cat "$SYSFS/free_hugepages")
dir=""
# However the script ends (an interrupt included): the mount point gone, the pages given back.
cleanup() {
  if [ -n "$dir" ]; then rmdir "$dir" || true; fi
  echo "$old" > "$SYSFS/nr_hugepages"
}
trap cleanup EXIT
echo $((old + PAGES)) > "$SYSFS/nr_hugepages"
granted=$(($(cat "$SYSFS/free_hugepages") - free_before))
if [ "$granted" -lt "$PAGES" ]; then
  cleanup
  trap - EXIT
  no_huge "the kernel granted $granted of $PAGES hugepages"
fi

dir=$(mktemp -d /tmp/vsw-pipeline-bench.XXXXXX)
status=0
# min_size reserves the pages for this mount alone; the mount ends with the namespace.
# shellcheck disable=SC2016 # the inner script expands its own arguments
unshare --mount --propagation private bash -c '
  mib=$1 dir=$2
  shift 2
  mount -t hugetlbfs -o "pagesize=2M,size=${mib}M,min_size=${mib}M" nodev "$dir" || exit 1
  status=0
  "$@" || status=$?
  rm -f "$dir"/*
  umount "$dir"
  exit $status
' pipeline.sh "$MIB" "$dir" "$BIN" --huge-dir="$dir" "${ARGS[@]}" || status=$?
exit "$status"
