#!/usr/bin/env bash
# Sets up, builds and runs every test and the fuzzers: the one command for a fresh clone (and CI).
#   tools/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
(cd build && ctest --output-on-failure -j"$(nproc)")
# Every parser of user files under libFuzzer with AddressSanitizer and UBSan, a minute each.
tools/fuzz.sh 60
