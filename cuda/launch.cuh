// Launch geometry shared by the grid-stride kernels: 256 threads a block, enough blocks to fill
// the GPU, each thread striding over the elements.
#pragma once

#include <algorithm>
#include <cstdint>

namespace sr::cuda {

constexpr int kThreads = 256;

inline int blocks_for(int64_t n) {
    const int64_t wanted = (n + kThreads - 1) / kThreads;
    return static_cast<int>(std::clamp<int64_t>(wanted, 1, 65535));
}

__device__ inline int64_t global_index() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline int64_t grid_stride() { return int64_t(blockDim.x) * gridDim.x; }

}  // namespace sr::cuda
