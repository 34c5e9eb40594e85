#!/usr/bin/env bash
# Sets up, builds and runs every test: the one command for a fresh clone (and what CI runs).
#   tools/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cd build
ctest --output-on-failure -j"$(nproc)"
