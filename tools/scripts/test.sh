#!/usr/bin/env bash
# The one test command: installs what it needs, builds, runs every test with
# CTest, then builds and runs everything again under ASan+UBSan.
# ROOTED_SKIP_SANITIZE=1 skips the sanitizer pass (quicker local loop).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/scripts/setup.sh

start=$(date +%s)
echo "== build (RelWithDebInfo)"
ROOTED_BUILD_DIR=build tools/scripts/build.sh
echo "== test"
(cd build && ctest --output-on-failure -j2 --timeout 600)

if [ "${ROOTED_SKIP_SANITIZE:-0}" != "1" ]; then
  echo "== build (ASan+UBSan)"
  ROOTED_BUILD_DIR=build-asan tools/scripts/build.sh -DROOTED_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  echo "== test under sanitizers"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest --output-on-failure -j2 --timeout 900)
fi
echo "== all tests passed in $(( $(date +%s) - start ))s"
