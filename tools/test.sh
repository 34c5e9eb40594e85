#!/usr/bin/env bash
# Sets up, builds and runs every test and the fuzzers: the one command for a fresh clone (and CI).
#   tools/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
# onnxruntime, the runtime test_onnx runs the exported models in, from the npm registry. Its
# install script would fetch GPU binaries from GitHub; the CPU runtime is in the package itself.
[ -d build/npm/node_modules/onnxruntime-node ] ||
  npm install --prefix build/npm --no-audit --no-fund --ignore-scripts onnxruntime-node@1.20.1 > build/npm-install.log 2>&1 ||
  { cat build/npm-install.log; exit 1; }
(cd build && ctest --output-on-failure -j"$(nproc)")
# Every parser of user files under libFuzzer with AddressSanitizer and UBSan, a minute each.
tools/fuzz.sh 60
