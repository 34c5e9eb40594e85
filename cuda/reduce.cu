#include "cuda/check.h"
#include "cuda/reduce.h"

namespace sr::cuda {

namespace {

constexpr int kReduceThreads = 256;

// One block per row: each thread sums a strided share of the row, then a shared-memory tree
// combines the 256 partial sums. Both orders are fixed, so the result is deterministic.
__global__ void sum_rows_kernel(const float* in, float* out, int64_t run) {
    __shared__ double partial[kReduceThreads];
    const float* row = in + int64_t(blockIdx.x) * run;
    double acc = 0;
    for (int64_t i = threadIdx.x; i < run; i += kReduceThreads) acc += row[i];
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int half = kReduceThreads / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = static_cast<float>(partial[0]);
}

}  // namespace

void sum_rows(const float* in, float* out, int64_t rows, int64_t run, int device) {
    if (rows == 0) return;
    DeviceGuard guard(device);
    SR_CHECK(rows <= 2147483647, "sum: too many output elements for one launch: ", rows);
    sum_rows_kernel<<<static_cast<unsigned>(rows), kReduceThreads>>>(in, out, run);
    check_launch("sum");
}

}  // namespace sr::cuda
