#!/usr/bin/env bash
# Builds the fuzz targets (clang, libFuzzer, ASan, UBSan) and runs each for a while on a copy
# of its corpus, so the repository is left as it was. See docs/fuzzing.md.
#   tests/fuzz/run.sh [-t SECONDS] [TARGET...]     (default: 60 s, every target)
# Environment: BUILD_FUZZ (build directory, default build-fuzz), JOBS (build jobs),
# FUZZ_OUT (logs, crash inputs and the grown corpora; default BUILD_FUZZ/fuzz-out).
# Exits non-zero when a target crashed or broke an invariant; its input is in FUZZ_OUT.
set -euo pipefail

cd "$(dirname "$0")/../.."
seconds=60
if [[ ${1:-} == -t ]]; then
  seconds=$2
  shift 2
fi
all_targets=(packet_parser pipeline frame_codec conn_state)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")
build=${BUILD_FUZZ:-build-fuzz}
out=${FUZZ_OUT:-$build/fuzz-out}
jobs=${JOBS:-$(nproc)}

if [[ ! -f $build/build.ninja ]]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DVSW_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j "$jobs"

mkdir -p "$out"
# Runs one target; its result goes to $out/$t.result (ok / failed).
run_target() {
  local t=$1 bin=$build/bin/fuzz_$1 corpus=$out/corpus-$1 artifacts=$out/crashes-$1
  local log=$out/$1.log start rc=0 pid runs cov
  rm -rf "$corpus"
  mkdir -p "$corpus" "$artifacts"
  cp tests/fuzz/corpus/$t/* "$corpus"/
  start=$(date +%s)
  # -timeout: one input taking longer is a hang, reported like a crash.
  "$bin" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 &
  pid=$!
  wait $pid || rc=$?
  # The pipeline target's EAL runtime directory (removed at a normal exit, not after a crash).
  rm -rf "/var/run/dpdk/vsw-fuzz-$pid"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 || true)
  if [[ $rc -ne 0 ]]; then
    echo failed >"$out/$t.result"
    echo "fuzz $t: FAILED after $(($(date +%s) - start)) s (exit $rc); log $log, input(s):" >&2
    ls "$artifacts" >&2
    grep -E 'ERROR|invariant violated|SUMMARY' "$log" | head -5 >&2 || true
  else
    echo ok >"$out/$t.result"
    echo "fuzz $t: ok, ${runs:-?} inputs in $(($(date +%s) - start)) s, ${cov:-cov: ?}," \
      "corpus $(ls "$corpus" | wc -l) (kept in $corpus)"
  fi
}
for t in "${targets[@]}"; do
  [[ -x $build/bin/fuzz_$t ]] || { echo "fuzz: no target '$t' (have: ${all_targets[*]})" >&2; exit 2; }
  rm -f "$out/$t.result"
done
# One target per core at a time (each still gets its seconds of wall time).
parallel=${FUZZ_PARALLEL:-$(nproc)}
running=0
for t in "${targets[@]}"; do
  run_target "$t" &
  running=$((running + 1))
  if [[ $running -ge $parallel ]]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true
failed=()
for t in "${targets[@]}"; do
  [[ $(cat "$out/$t.result" 2>/dev/null) == ok ]] || failed+=("$t")
done
if [[ ${#failed[@]} -ne 0 ]]; then
  echo "fuzz: failed: ${failed[*]} (reproduce: $build/bin/fuzz_TARGET INPUT)" >&2
  exit 1
fi
