#!/usr/bin/env bash
# Sets up and builds srforge on a Debian machine: installs the Debian packages it needs when they
# are missing, then configures and builds (Release) into build/. The CUDA backend is built
# whenever nvcc, cuBLAS and cuDNN are found (SR_CUDA=AUTO); set SR_CUDA=OFF for a CPU-only build.
#
#   tools/setup.sh            # from the repository root
set -euo pipefail
cd "$(dirname "$0")/.."

# yaml-cpp reads option files; liblmdb reads BasicSR's LMDB datasets; libpng and libjpeg-turbo
# decode PNG and JPEG; libzip opens PyTorch's zip checkpoints (pkg-config finds it); protobuf
# (library and protoc) decodes TensorBoard event files in the tests; libonnx-dev (ONNX's protobuf
# classes) writes ONNX models for sr_export, and Node.js with npm runs them in onnxruntime in the
# tests; clang with its runtimes (libFuzzer, sanitizers, OpenMP) builds the fuzz harnesses;
# cpp-httplib serves sr_serve's page and API; Open MPI starts and connects the ranks of data-parallel training.
packages=(cmake g++ make libstb-dev doctest-dev ccache libyaml-cpp-dev liblmdb-dev libpng-dev libturbojpeg0-dev libzip-dev pkg-config
          libprotobuf-dev protobuf-compiler libonnx-dev clang libclang-rt-dev libomp-dev libcpp-httplib-dev
          libopenmpi-dev openmpi-bin)
# For the tests only (tools/test.sh sets SR_TEST_PACKAGES): the browser sr_serve's page is tested in.
[ -z "${SR_TEST_PACKAGES:-}" ] || packages+=(chromium fonts-liberation)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm by command: a machine may have them from elsewhere (NodeSource's nodejs bundles
# npm and conflicts with Debian's npm package).
command -v node > /dev/null && command -v npm > /dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSR_CUDA="${SR_CUDA:-AUTO}"
cmake --build build -j"$jobs"
