#!/usr/bin/env bash
# The unpaired SR experiment of docs/RESULTS.md, on a DIV2K-layout folder (default div2k-mini):
# does a CinCGAN-style pipeline (a clean-up CycleGAN, then an EDSR fine-tuned on its output) beat
# a bicubic-trained EDSR on "real" low-resolution photos that have no HR to train with?
#
#   tools/unpaired_div2k.sh [DIV2K_ROOT]        # about 25 minutes on 2 CPU cores
#
# SR_TOOLS=DIR uses the tools built in DIR (default build/tools); TRAIN_FLAGS="..." is given to
# every train_sr (tests/unpaired_pipeline_test.sh runs it all with --iters 2 on data/demo).
#
# The domains, from the 16 training and 4 validation photographs:
#   A ("real" LR):  photos 0001-0008 downscaled x2 by Real-ESRGAN's random degradations
#                   (sr_degrade: blur, resizes, noise, JPEG; seed 1). Only these LR images are used:
#                   neither their HR nor their clean LR is seen by any stage.
#   B (clean LR):   photos 0009-0016's bicubic x2 (DIV2K's own LR files), and their HR.
#   test:           validation photos 0801-0804 degraded the same way (seed 2); their HR and bicubic
#                   LR are held back as ground truth.
# Stages (each a preset, resumable as every train_sr run):
#   1. configs/cincgan_cleanup_x2_cpu.yaml     CycleGAN A <-> B: G_A cleans real LR up
#   2. configs/cincgan_edsr_bicubic_x2_cpu.yaml EDSR on B's clean pairs: the plain baseline
#   3. sr_upscale: G_A on the test LR; G_B then G_A on B's clean LR (real-looking, then cleaned)
#   4. configs/cincgan_edsr_x2_cpu.yaml        EDSR fine-tuned on (G_A(G_B(LR_B)), HR_B)
#   5. sr_eval on the test photos against their HR; sr_grid for the picture
# Results: runs/unpaired_div2k/results.md (the table) and runs/unpaired_div2k/grid.png.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-../shared/data/div2k-mini}
bin=${SR_TOOLS:-build/tools}  # where the built tools are
out=runs/unpaired_div2k
data=$out/data
[ -d "$src/DIV2K_train_HR" ] && [ -d "$src/DIV2K_valid_HR" ] || { echo "unpaired_div2k: $src has no DIV2K_train_HR/ and DIV2K_valid_HR/" >&2; exit 1; }
[ -x "$bin/train_sr" ] || tools/setup.sh

# Real LR: NAME.png degraded x2 into DIR/NAMEx2.png (sr_degrade writes NAME_lq_0.png).
degrade() {  # degrade SEED DIR HR_FILE...
    local seed=$1 dir=$2 tmp
    shift 2
    tmp=$(mktemp -d)
    mkdir -p "$tmp/in" "$dir"
    for f in "$@"; do ln -s "$(realpath "$f")" "$tmp/in/"; done
    "$bin/sr_degrade" --input "$tmp/in" --output "$tmp/out" --scale 2 --count 1 --seed "$seed" > "$tmp/drawn.txt"
    for f in "$@"; do
        local stem
        stem=$(basename "$f" .png)
        mv "$tmp/out/${stem}_lq_0.png" "$dir/${stem}x2.png"
    done
    cp "$tmp/drawn.txt" "$dir/../degradations_seed$seed.txt"
    rm -rf "$tmp"
}

make_domains() {
    rm -rf "$data"
    mkdir -p "$data"/{trainB,clean_pairs/HR,clean_pairs/LR,test/HR,test/LR_clean}
    degrade 1 "$data/trainA" "$src"/DIV2K_train_HR/000[1-8].png
    for i in 0009 0010 0011 0012 0013 0014 0015 0016; do
        cp "$src/DIV2K_train_LR_bicubic/X2/${i}x2.png" "$data/trainB/"
        cp "$src/DIV2K_train_LR_bicubic/X2/${i}x2.png" "$data/clean_pairs/LR/"
        cp "$src/DIV2K_train_HR/$i.png" "$data/clean_pairs/HR/"
    done
    degrade 2 "$data/test/LR_real" "$src"/DIV2K_valid_HR/080[1-4].png
    cp "$src"/DIV2K_valid_HR/080[1-4].png "$data/test/HR/"
    cp "$src"/DIV2K_valid_LR_bicubic/X2/080[1-4]x2.png "$data/test/LR_clean/"
    touch "$data/.complete"
}

[ -f "$data/.complete" ] || make_domains
train() { "$bin/train_sr" --config "configs/$1.yaml" ${TRAIN_FLAGS:-}; }
train cincgan_cleanup_x2_cpu
train cincgan_edsr_bicubic_x2_cpu
cleanup=runs/cincgan_cleanup_x2_cpu
rm -rf "$data/test/LR_cleaned" "$data/trainB_as_real" "$data/finetune_LR"
"$bin/sr_upscale" --quiet --weights "$cleanup/net_g_A.safetensors" --input "$data/test/LR_real" --output "$data/test/LR_cleaned"
"$bin/sr_upscale" --quiet --weights "$cleanup/net_g_B.safetensors" --input "$data/trainB" --output "$data/trainB_as_real"
"$bin/sr_upscale" --quiet --weights "$cleanup/net_g_A.safetensors" --input "$data/trainB_as_real" --output "$data/finetune_LR"
train cincgan_edsr_x2_cpu

# sr_eval reads HR/ + LR_bicubic/X2/: one such folder per kind of test LR.
for kind in real clean cleaned; do
    rm -rf "$out/eval/$kind"
    mkdir -p "$out/eval/$kind/LR_bicubic"
    ln -s "$(realpath "$data/test/HR")" "$out/eval/$kind/HR"
    ln -s "$(realpath "$data/test/LR_$kind")" "$out/eval/$kind/LR_bicubic/X2"
done
edsr=runs/cincgan_edsr_bicubic_x2_cpu/net_g_latest.safetensors
tuned=runs/cincgan_edsr_x2_cpu/net_g_latest.safetensors
score() {  # score LABEL LR_KIND MODEL_ARGS...
    local label=$1 kind=$2
    shift 2
    "$bin/sr_eval" --data "$out/eval/$kind" --scale 2 --split all --json "$@" |
        /usr/bin/env awk -v label="$label" '{ match($0, /"psnr_y": *[0-9.]+/); p = substr($0, RSTART, RLENGTH); sub(/.*: */, "", p);
                                               match($0, /"ssim_y": *[0-9.]+/); s = substr($0, RSTART, RLENGTH); sub(/.*: */, "", s);
                                               printf "| %s | %.2f | %.4f |\n", label, p, s }'
}
{
    echo "| method (on the real LR test photos, against their held-back HR) | PSNR-Y (dB) | SSIM-Y |"
    echo "|---|---|---|"
    score "bicubic upscaling" real --model bicubic
    score "EDSR trained on bicubic pairs" real --weights "$edsr"
    score "clean-up G_A, then bicubic upscaling" cleaned --model bicubic
    score "clean-up G_A, then the bicubic-trained EDSR" cleaned --weights "$edsr"
    score "unpaired pipeline: G_A, then the fine-tuned EDSR" cleaned --weights "$tuned"
    score "(reference: EDSR on the clean bicubic LR, not available in practice)" clean --weights "$edsr"
} | tee "$out/results.md"

# The picture: real LR | bicubic-trained EDSR | G_A's clean-up | pipeline | HR, two scenes.
mkdir -p "$out/sr/edsr" "$out/sr/pipeline"
"$bin/sr_upscale" --quiet --weights "$edsr" --input "$data/test/LR_real" --output "$out/sr/edsr"
"$bin/sr_upscale" --quiet --weights "$tuned" --input "$data/test/LR_cleaned" --output "$out/sr/pipeline"
row() {  # row X,Y NAME
    echo "$1:$data/test/LR_real/$2x2.png,$out/sr/edsr/$2x2.png,$data/test/LR_cleaned/$2x2.png,$out/sr/pipeline/$2x2.png,$data/test/HR/$2.png"
}
"$bin/sr_grid" --output "$out/grid.png" --size 200 --captions "real LR,EDSR,G_A(LR),pipeline,HR" \
    --rows "$(row 420,240 0801);$(row 500,300 0803);$(row 300,200 0804)"
echo "unpaired_div2k: $out/results.md and $out/grid.png"
