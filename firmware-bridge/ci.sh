#!/bin/sh
# firmware-bridge CI: vectors up to date, host build + unit tests, sanitized tests + fuzzing (clang), Cortex-M4
# build + size report. Idempotent; builds only in firmware-bridge/build*. Exits non-zero on the first failure.
#   FUZZ_SECONDS=60   how long to fuzz (0 skips fuzzing, not the sanitized tests)
#   SBP_SKIP_M4=1     skip the Cortex-M4 build when arm-none-eabi-gcc is not installed
set -eu
cd "$(dirname "$0")"
fuzz_seconds=${FUZZ_SECONDS:-60}
jobs=$(nproc 2>/dev/null || echo 2)

step() { printf '\n== %s ==\n' "$1"; }

step "golden vectors match make_vectors.py and schema.txt"
python3 vectors/make_vectors.py --check

step "host build (gcc: -std=c99 -pedantic -Wall -Wextra -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure)

step "C echo round trip over a pty (functional check; timings are not judged here)"
./build/c_echo_rtt --count 200

step "sanitized build (clang, ASan + UBSan) and its tests"
if command -v clang >/dev/null 2>&1; then
  CC=clang cmake -S . -B build-fuzz -DSBP_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-fuzz -j"$jobs"
  (cd build-fuzz && ctest --output-on-failure)
  if [ "$fuzz_seconds" -gt 0 ]; then
    step "libFuzzer, $fuzz_seconds s"
    ./fuzz/run.sh "$fuzz_seconds"
  fi
else
  echo "clang not found: cannot build the sanitized tests or fuzz (Debian: apt-get install clang)" >&2
  exit 1
fi

step "Cortex-M4 build (arm-none-eabi-gcc -Os, hard float) and size report"
if command -v arm-none-eabi-gcc >/dev/null 2>&1; then
  cmake -S . -B build-m4 -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake >/dev/null
  cmake --build build-m4 -j"$jobs" 2>&1 | grep -vE '^\[ *[0-9]+%\]|^gmake|^make'
elif [ "${SBP_SKIP_M4:-0}" = 1 ]; then
  echo "arm-none-eabi-gcc not found; skipped (SBP_SKIP_M4=1)"
else
  echo "arm-none-eabi-gcc not found (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi; or SBP_SKIP_M4=1)" >&2
  exit 1
fi

step "all green"
