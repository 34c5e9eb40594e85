// The GPU side of ops/map.h: out[i] = f(in[i]...) for an SR_HD functor, F32. The kernel template
// is in cuda/map.cuh; cuda/elementwise.cu instantiates it for every functor of ops/functors.h,
// so ordinary C++ translation units can call these without seeing any CUDA code.
#pragma once

#include <cstdint>

#include "ops/strided.h"

namespace sr::cuda {

// Runs on GPU `device`, where all operands live.
template <class F>
void map(int device, int64_t n, const F& f, StridedPtr<float> out, StridedPtr<float> a);
template <class F>
void map(int device, int64_t n, const F& f, StridedPtr<float> out, StridedPtr<float> a, StridedPtr<float> b);
template <class F>
void map(int device, int64_t n, const F& f, StridedPtr<float> out, StridedPtr<float> a, StridedPtr<float> b,
         StridedPtr<float> c);

}  // namespace sr::cuda
