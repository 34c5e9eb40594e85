#!/usr/bin/env bash
# The unpaired SR pipeline end to end (tools/unpaired_div2k.sh), every stage for 2 iterations, on
# the shipped data/demo: the domains are built, the clean-up CycleGAN, the bicubic EDSR and the
# fine-tuned EDSR train, G_A and G_B run over folders, sr_eval scores six ways and sr_grid draws.
#   tests/unpaired_pipeline_test.sh SOURCE_DIR TOOLS_DIR WORK_DIR
set -euo pipefail
src=$(realpath "$1") tools=$(realpath "$2") work=$3
rm -rf "$work"
mkdir -p "$work/tools"
cp -r "$src/configs" "$work/"
cp "$src/tools/unpaired_div2k.sh" "$work/tools/"
cd "$work"
SR_TOOLS=$tools TRAIN_FLAGS="--iters 2 --quiet" tools/unpaired_div2k.sh "$src/data/demo" > log.txt 2>&1 || { cat log.txt; exit 1; }
out=runs/unpaired_div2k
fail() { echo "unpaired pipeline: $*"; cat log.txt; exit 1; }
[ "$(ls "$out/data/trainA" | wc -l)" = 8 ] || fail "domain A should hold 8 degraded photos"
[ "$(ls "$out/data/finetune_LR" | wc -l)" = 8 ] || fail "the fine-tuning LR should hold 8 images"
for f in runs/cincgan_cleanup_x2_cpu/net_g_A.safetensors runs/cincgan_edsr_x2_cpu/net_g_latest.safetensors "$out/grid.png"; do
    [ -s "$f" ] || fail "$f is missing"
done
[ "$(grep -c '^| [^-]' "$out/results.md")" = 7 ] || fail "results.md should have a header and six rows"
grep -q '| unpaired pipeline: G_A, then the fine-tuned EDSR | [0-9][0-9]\.[0-9][0-9] | 0\.[0-9]* |' "$out/results.md" || fail "no score for the pipeline"
echo "unpaired pipeline: every stage ran"
