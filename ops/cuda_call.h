// How ops/ calls its CUDA kernels (declared in cuda/*.h, plain C++ headers):
//
//   if (x.is_cuda()) { SR_CUDA_CALL(cuda::sum_rows(in, out, rows, run, x.device().index)); return out; }
//
// In a CUDA build the call is compiled as written. In a CPU-only build cuda/ is not compiled, so
// the call is replaced by an error; it is unreachable there anyway, because no CUDA tensor can be
// created without CUDA support.
#pragma once

#include "core/error.h"

#if SR_HAS_CUDA
#define SR_CUDA_CALL(...) __VA_ARGS__
#else
#define SR_CUDA_CALL(...) ::sr::fail("this srforge build has no CUDA support")
#endif
