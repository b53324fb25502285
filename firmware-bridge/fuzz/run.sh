#!/bin/sh
# Run the libFuzzer target for a while (default 60 s) with ASan + UBSan, seeded from fuzz/corpus.
# New inputs go to build-fuzz/corpus (git-ignored); crashes to build-fuzz/artifacts. A crash makes this exit
# non-zero: fix the bug, then copy the crashing input into fuzz/regressions/ so ctest replays it forever.
# Usage: fuzz/run.sh [SECONDS]   (CC must be able to find clang; configures build-fuzz on first use)
set -eu
seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=$root/build-fuzz
if [ ! -x "$build/fuzz_decoder" ]; then
  CC=${FUZZ_CC:-clang} cmake -S "$root" -B "$build" -DSBP_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target fuzz_decoder -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
mkdir -p "$build/corpus" "$build/artifacts"
log=$build/fuzz.log
set +e
"$build/fuzz_decoder" -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 \
  -artifact_prefix="$build/artifacts/" "$build/corpus" "$here/corpus" >"$log" 2>&1
rc=$?
set -e
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
echo "{\"fuzz_seconds\":$seconds,\"executions\":${execs:-0},\"exec_per_sec\":${rate:-0},\"coverage_edges\":${cov:-0},\"exit\":$rc}"
if [ "$rc" -ne 0 ]; then
  tail -40 "$log" >&2
  echo "fuzzer failed; crashing input in $build/artifacts/ (copy it to fuzz/regressions/ once fixed)" >&2
  exit 1
fi
