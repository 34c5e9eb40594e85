// The grid-stride elementwise kernel behind cuda::map (cuda/map.h): element i of the launch is
// out[i] = f(in[i]...), with the same SR_HD functor the CPU loop of ops/map.h runs.
#pragma once

#include "cuda/check.h"
#include "cuda/launch.cuh"
#include "cuda/map.h"

namespace sr::cuda {

// Shapes: every StridedPtr describes the same n-element iteration; strides may differ.
template <class F, class... In>
__global__ void map_strided_kernel(int64_t n, F f, StridedPtr<float> out, In... in) {
    for (int64_t i = global_index(); i < n; i += grid_stride()) out[i] = f(in[i]...);
}

// All operands contiguous: plain indexing, no index arithmetic.
template <class F, class... In>
__global__ void map_contiguous_kernel(int64_t n, F f, float* out, const In*... in) {
    for (int64_t i = global_index(); i < n; i += grid_stride()) out[i] = f(in[i]...);
}

template <class F, class... In>
void launch_map(int device, int64_t n, const F& f, StridedPtr<float> out, In... in) {
    DeviceGuard guard(device);
    if (out.contiguous() && (in.contiguous() && ...))
        map_contiguous_kernel<<<blocks_for(n), kThreads>>>(n, f, out.data, static_cast<const float*>(in.data)...);
    else
        map_strided_kernel<<<blocks_for(n), kThreads>>>(n, f, out, in...);
    check_launch("elementwise map");
}

template <class F>
void map(int device, int64_t n, const F& f, StridedPtr<float> out, StridedPtr<float> a) {
    launch_map(device, n, f, out, a);
}
template <class F>
void map(int device, int64_t n, const F& f, StridedPtr<float> out, StridedPtr<float> a, StridedPtr<float> b) {
    launch_map(device, n, f, out, a, b);
}
template <class F>
void map(int device, int64_t n, const F& f, StridedPtr<float> out, StridedPtr<float> a, StridedPtr<float> b,
         StridedPtr<float> c) {
    launch_map(device, n, f, out, a, b, c);
}

}  // namespace sr::cuda
