#!/usr/bin/env bash
# The GPU comparison: sr_bench --device cuda and bench_torch.py --device cuda (PyTorch eager +
# cuDNN, exact FP32) on the same GPU, joined into one table with time and memory ratios.
# Needs a GPU and a PyTorch with CUDA.
#   tools/bench/compare_cuda.sh [--only NAME] [--repeat N]
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${PYTHON:-/usr/bin/python3}
if ! "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "compare_cuda.sh: $py has no PyTorch with a usable GPU (set PYTHON=...)" >&2
  exit 1
fi
tools/setup.sh > /dev/null
out=$(mktemp -d)
build/tools/sr_bench --device cuda --json "$@" | tee "$out/srforge.jsonl" >&2
"$py" tools/bench/bench_torch.py --device cuda "$@" | tee "$out/torch.jsonl" >&2
python3 tools/bench/compare.py --ours "$out/srforge.jsonl" --torch "$out/torch.jsonl"
rm -rf "$out"
