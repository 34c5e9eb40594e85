#include "cuda/check.h"
#include "cuda/launch.cuh"
#include "cuda/optim.h"

namespace sr::cuda {

namespace {
__global__ void adam_kernel(AdamStep step, float* p, const float* g, float* m, float* v, int64_t n) {
    for (int64_t i = global_index(); i < n; i += grid_stride()) step(p[i], g[i], m[i], v[i]);
}
}  // namespace

void adam_update(const AdamStep& step, float* p, const float* g, float* m, float* v, int64_t n, int device) {
    if (n == 0) return;
    DeviceGuard guard(device);
    adam_kernel<<<blocks_for(n), kThreads>>>(step, p, g, m, v, n);
    check_launch("adam");
}

}  // namespace sr::cuda
