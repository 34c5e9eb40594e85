#!/usr/bin/env bash
# The first thing to run: sets up and builds srforge (tools/setup.sh), then trains a small EDSR to
# upscale x2 on data/demo, the photographs shipped in this repository (configs/demo_edsr_x2.yaml:
# about 4 minutes on 2 CPU cores), and upscales one validation image with it.
#
#   tools/demo.sh                  # from anywhere; extra arguments go to train_sr (e.g. --iters 300)
#
# Results in runs/demo_edsr_x2/: curves.png (loss and validation PSNR against bicubic),
# samples/iter_N.png (bicubic | model | ground truth crops), metrics.csv, the trained weights, and
# 0803_x2.png (a validation image upscaled by the model). Running it again continues or, once
# finished, just reports; add --restart to train from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
build/tools/train_sr --config configs/demo_edsr_x2.yaml "$@"
run=runs/demo_edsr_x2
build/tools/sr_upscale --weights "$run/net_g_latest.safetensors" \
  --input data/demo/DIV2K_valid_LR_bicubic/X2/0803x2.png --output "$run/0803_x2.png"
echo "demo: look at $run/curves.png, $run/samples/ and $run/0803_x2.png"
