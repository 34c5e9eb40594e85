#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz (clang, AddressSanitizer + UBSan) into build-fuzz/
# and runs each for SECONDS (default 60), two at a time. Inputs the fuzzers find are kept in
# build-fuzz/corpus/NAME (the committed seeds in tests/fuzz/corpus/NAME are only read); a crash,
# sanitizer report, leak, hang or out-of-memory is written to build-fuzz/findings/ and fails the run.
#   tools/fuzz.sh [SECONDS] [NAME ...]      # e.g. tools/fuzz.sh 600 image
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
names=("$@")
((${#names[@]})) || names=(safetensors image options checkpoint lmdb_meta pth hdf5)

mkdir -p build-fuzz
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DSR_FUZZ=ON -DSR_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo > build-fuzz/build.log 2>&1 ||
  { cat build-fuzz/build.log; exit 1; }
cmake --build build-fuzz -j"$(nproc)" >> build-fuzz/build.log 2>&1 || { tail -40 build-fuzz/build.log; exit 1; }
mkdir -p build-fuzz/findings

# Further seeds already in the tree, per harness.
extra_seeds() {
  case $1 in
    image) echo tests/fixtures/images ;;
    options) echo configs tests/fixtures/basicsr_options ;;
    hdf5) echo tests/fixtures/hdf5 ;;
    pth) echo tests/fixtures/pth tests/fixtures/basicsr_runs ;;
  esac
}

run_one() {
  local name=$1 seconds=$2 log=build-fuzz/fuzz_$1.log
  mkdir -p "build-fuzz/corpus/$name"
  # -rss_limit_mb: the parsers must refuse what would need more; -timeout: no input may take 10 s.
  if build-fuzz/tests/fuzz/fuzz_"$name" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="build-fuzz/findings/${name}-" "build-fuzz/corpus/$name" "tests/fuzz/corpus/$name" $(extra_seeds "$name") \
      > "$log" 2>&1; then
    echo "fuzz $name: $(grep -m1 -o 'Done [0-9]* runs in [0-9]* second(s)' "$log"), $(grep -o 'stat::new_units_added: *[0-9]*' "$log" | grep -o '[0-9]*$') new units, corpus $(ls "build-fuzz/corpus/$name" | wc -l) files"
  else
    echo "fuzz $name: FAILED (log: $log)"
    grep -E "ERROR|SUMMARY|artifact|Test unit written" "$log" | head -5
    return 1
  fi
}
export -f run_one extra_seeds
rm -f /tmp/srforge_fuzz_checkpoint.*
printf '%s\n' "${names[@]}" | xargs -P "$(nproc)" -I{} bash -c "run_one {} $seconds"
