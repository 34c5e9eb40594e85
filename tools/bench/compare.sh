#!/usr/bin/env bash
# One command, both frameworks, same machine: builds srforge (tools/setup.sh), then runs sr_bench
# and the PyTorch script with the same rows and method in alternating rounds (srforge, PyTorch,
# srforge, PyTorch, ...), and prints the side-by-side table. Each row's srforge / PyTorch time
# ratio is taken within a round and the median over rounds is reported with its range, so the
# machine's drift over minutes (tens of percent on shared VMs) falls out of the ratio.
# Needs Debian's python3-torch for the PyTorch half.
#   tools/bench/compare.sh [--rounds R (default 3)] [--only NAME] [--repeat N] [--precision bf16]
# (--precision bf16: srforge's bf16 mode against PyTorch under torch.autocast(bfloat16).)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=3
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds)
      [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --rounds needs a positive whole number" >&2; exit 2; }
      rounds=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
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
# Debian's OpenBLAS 0.3.21 does not know the newest CPUs (Sapphire/Emerald Rapids Xeons among
# them) and falls back to its SSE3 "Prescott" kernels, several times slower; name the core it
# should use, from the CPU's flags, as a user who noticed would.
if [ -z "${OPENBLAS_CORETYPE:-}" ] &&
   OPENBLAS_VERBOSE=2 /usr/bin/python3 -c "import torch; torch.ones(8, 8) @ torch.ones(8, 8)" 2>&1 | grep -q 'Core: Prescott'; then
  if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX; else export OPENBLAS_CORETYPE=Haswell; fi
  echo "compare.sh: OpenBLAS does not recognise this CPU; using its $OPENBLAS_CORETYPE kernels" >&2
fi
tools/setup.sh > /dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ours=() theirs=()
for r in $(seq 1 "$rounds"); do
  echo "compare.sh: round $r of $rounds" >&2
  build/tools/sr_bench --json "${args[@]}" | tee "$out/srforge_$r.jsonl" >&2
  /usr/bin/python3 tools/bench/bench_torch.py "${args[@]}" | tee "$out/torch_$r.jsonl" >&2
  ours+=("$out/srforge_$r.jsonl") theirs+=("$out/torch_$r.jsonl")
done
# OpenBLAS as the GEMM yardstick, when Debian's libopenblas-dev is installed (benchmark only).
blas_dir=/usr/include/x86_64-linux-gnu/openblas-pthread
blas=()
if [ -f "$blas_dir/cblas.h" ] && gcc -O2 -I"$blas_dir" tools/bench/openblas_sgemm.c -o "$out/openblas_sgemm" \
     -L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas 2>/dev/null; then
  "$out/openblas_sgemm" | tee "$out/openblas.jsonl" >&2
  blas=(--blas "$out/openblas.jsonl")
else
  echo "compare.sh: libopenblas-dev not installed; no OpenBLAS column (apt-get install libopenblas-dev)" >&2
fi
python3 tools/bench/compare.py --ours "${ours[@]}" --torch "${theirs[@]}" "${blas[@]}"
