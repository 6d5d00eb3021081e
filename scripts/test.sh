#!/usr/bin/env bash
# Runs every riskwatch test: installs missing packages, builds, then runs the
# whole suite (unit tests, integration against a real Kafka broker and a
# private redis-server, librdkafka's mock cluster) twice with ctest: once built
# with ASan/UBSan, once as released (with a valgrind run of the demo); between
# the two, a bounded libFuzzer run of the decoder (RW_FUZZ_SECONDS, default 60).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${RW_BUILD_DIR:-$here/build}"
asan="${RW_ASAN_BUILD_DIR:-$here/build-asan}"
jobs=$(nproc)

"$here/scripts/setup.sh" --test

step() { printf '\n== %s ==\n' "$*"; }

step "build (sanitizers)"
cmake -S "$here" -B "$asan" -DCMAKE_BUILD_TYPE=Debug -DRW_SANITIZE=ON -DRW_TESTS=ON >/dev/null
cmake --build "$asan" -j"$jobs" >/dev/null
step "all tests under ASan/UBSan"
(cd "$asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 ctest -LE valgrind --output-on-failure)

step "build"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRW_TESTS=ON >/dev/null
cmake --build "$build" -j"$jobs" >/dev/null
fuzz_seconds="${RW_FUZZ_SECONDS:-60}"
step "fuzz the decoder (${fuzz_seconds} s)"
"$here/tests/fuzz/run.sh" "${RW_FUZZ_BUILD_DIR:-$here/build-fuzz}" "$fuzz_seconds"
step "all tests"
cd "$build"
exec ctest --output-on-failure "$@"
