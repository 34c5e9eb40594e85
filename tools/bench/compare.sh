#!/usr/bin/env bash
# One command, both frameworks, same machine: builds srforge (tools/setup.sh), runs sr_bench and
# the PyTorch script with the same rows and method, and prints the side-by-side table
# (srforge / PyTorch time ratios). Needs Debian's python3-torch for the PyTorch half.
#   tools/bench/compare.sh [--only NAME] [--repeat N]
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "compare.sh: /usr/bin/python3 cannot import torch; install Debian's python3-torch" >&2
  exit 1
fi
# Debian's PyTorch does its matrix products (linear layers, attention) through the libblas.so.3
# alternative: the netlib reference BLAS unless OpenBLAS is installed, which would make PyTorch
# several times slower than it is for anyone who installed a fast BLAS.
if ! readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 | grep -q openblas; then
  echo "compare.sh: PyTorch would use the reference BLAS; install libopenblas-dev for a fair comparison" >&2
  exit 1
fi
tools/setup.sh > /dev/null
out=$(mktemp -d)
build/tools/sr_bench --json "$@" | tee "$out/srforge.jsonl" >&2
/usr/bin/python3 tools/bench/bench_torch.py "$@" | tee "$out/torch.jsonl" >&2
# OpenBLAS as the GEMM yardstick, when Debian's libopenblas-dev is installed (benchmark only).
blas_dir=/usr/include/x86_64-linux-gnu/openblas-pthread
extra=()
if [ -f "$blas_dir/cblas.h" ] && gcc -O2 -I"$blas_dir" tools/bench/openblas_sgemm.c -o "$out/openblas_sgemm" \
     -L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas 2>/dev/null; then
  "$out/openblas_sgemm" | tee "$out/openblas.jsonl" >&2
  extra=("$out/openblas.jsonl")
else
  echo "compare.sh: libopenblas-dev not installed; no OpenBLAS column (apt-get install libopenblas-dev)" >&2
fi
python3 tools/bench/compare.py "$out/srforge.jsonl" "$out/torch.jsonl" "${extra[@]}"
rm -rf "$out"
