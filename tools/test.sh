#!/usr/bin/env bash
# Sets up, builds and runs every test and the fuzzers: the one command for a fresh clone (and CI).
#   tools/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SR_TEST_PACKAGES=1 tools/setup.sh
# From the npm registry: onnxruntime, the runtime test_onnx runs the exported models in (its install
# script would fetch GPU binaries from GitHub; the CPU runtime is in the package itself), and
# playwright-core, which drives Debian's chromium for test_serve (it downloads no browser).
[ -d build/npm/node_modules/onnxruntime-node ] && [ -d build/npm/node_modules/playwright-core ] ||
  npm install --prefix build/npm --no-audit --no-fund --ignore-scripts onnxruntime-node@1.20.1 playwright-core@1.65.1 \
    > build/npm-install.log 2>&1 || { cat build/npm-install.log; exit 1; }
(cd build && ctest --output-on-failure -j"$(nproc)")
# Every parser of user files under libFuzzer with AddressSanitizer and UBSan, a minute each.
tools/fuzz.sh 60
