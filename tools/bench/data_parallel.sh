#!/usr/bin/env bash
# Data-parallel step time: one process of batch 2B against 2 ranks of batch B (mpirun), the same
# global batch and crops, interleaved (1 2 1 2 ...) so drift between runs hits both sides, and how
# much of the gradient all-reduce backward hid (train_sr prints it after a multi-rank run).
#
#   tools/bench/data_parallel.sh [ROUNDS] [ITERS]       # defaults 3 rounds of 40 iterations
#
# SR_TOOLS=DIR picks the build (default build/tools), MODEL the network (default EDSR f64 b16,
# 1.37 M parameters, 5.5 MB of gradients), BATCH the per-rank batch (default 8). Prints seconds
# per iteration of each run (metrics.csv's time_s, the first 10 iterations left out as warm-up).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3} iters=${2:-40}
bin=${SR_TOOLS:-build/tools}
model=${MODEL:-edsr:num_feat=64,num_block=16,upscale=2}
batch=${BATCH:-8}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
flags="--data data/demo --model $model --scale 2 --patch 24 --iters $iters --val-freq 100000 --save-freq 100000
       --print-freq 1 --val-images 1 --workers 1 --quiet --out $out"
per_iter() {  # seconds per iteration after the first 10, from metrics.csv's time_s
    awk -F, -v skip=10 'NR > 1 && $2 != "" { t[$1] = $NF } END { n = 0; for (i in t) if (i + 0 > n) n = i + 0;
                         printf "%.3f", (t[n] - t[skip]) / (n - skip) }' "$out/$1/metrics.csv"
}
for r in $(seq "$rounds"); do
    "$bin/train_sr" $flags --name "one_$r" --batch $((2 * batch)) > /dev/null
    mpirun --oversubscribe --bind-to none -np 2 "$bin/train_sr" $flags --name "two_$r" --batch "$batch" --threads 1 > "$out/two_$r.txt"
    echo "round $r: 1 process, batch $((2 * batch)): $(per_iter "one_$r") s/it;" \
         "2 ranks, batch $batch each: $(per_iter "two_$r") s/it; $(grep -h 'all-reduce' "$out/two_$r.txt" || echo 'no all-reduce line')"
done
