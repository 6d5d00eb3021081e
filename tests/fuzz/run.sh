#!/usr/bin/env bash
# run.sh BUILD_DIR SECONDS - fuzz the decoder for SECONDS (libFuzzer): builds
# fuzz_decode with clang in BUILD_DIR (configured with -DRW_FUZZ=ON if it is
# not a build dir yet), runs it over a scratch copy of tests/fuzz/corpus/ and
# fails on any crash, sanitizer report, leak or disagreement between the decode
# paths. New inputs stay in the scratch copy; a failing input is kept as
# BUILD_DIR/fuzz-artifacts/crash-* and the whole output as BUILD_DIR/fuzz.log.
#
# LeakSanitizer stays on: the target's codecs live across inputs (as in
# riskwatch) and are destroyed at exit, before its final check, so avro-c's
# values (which it stores 4 bytes off alignment, hiding them from the scan)
# are not reported as leaks. Set ASAN_OPTIONS to override.
set -euo pipefail
usage="usage: run.sh BUILD_DIR SECONDS"
build=${1:?$usage}
secs=${2:?$usage}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ $secs =~ ^[0-9]+$ ]] || { echo "run.sh: SECONDS must be a whole number" >&2; exit 2; }
if [[ $secs -eq 0 ]]; then
  echo "fuzz: 0 seconds, skipped"        # libFuzzer would read 0 as "no limit"
  exit 0
fi

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$here" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DRW_FUZZ=ON >/dev/null
elif ! grep -q '^RW_FUZZ:BOOL=ON$' "$build/CMakeCache.txt"; then
  echo "run.sh: $build is a build dir without -DRW_FUZZ=ON; use another" >&2
  exit 2
fi
cmake --build "$build" -j"$(nproc)" --target fuzz_decode >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/rw-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$here"/tests/fuzz/corpus/* "$work/"
mkdir -p "$build/fuzz-artifacts"
log="$build/fuzz.log"

rc=0
RW_SOURCE_DIR="$here" ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
  "$build/fuzz_decode" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/" "$work" >"$log" 2>&1 || rc=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
if [[ $rc -ne 0 ]]; then
  tail -n 40 "$log" >&2
  echo "fuzz: FAILED after ${execs:-?} executions (exit $rc); input in $build/fuzz-artifacts/," \
       "log in $log" >&2
  exit 1
fi
echo "fuzz: ${execs:-?} executions in $secs s, ${cov:-cov: ?} edges," \
     "$(ls "$work" | wc -l) corpus inputs; no findings"
