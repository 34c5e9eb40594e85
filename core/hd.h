// SR_HD marks a function that runs on both the CPU and the GPU. Under nvcc it expands to
// `__host__ __device__`; under the ordinary C++ compiler it expands to nothing. Elementwise math is
// written once as an SR_HD functor, and both launchers (ops/map.h on the CPU, cuda/map.cuh on the
// GPU) run that same body, so the float64 CPU gradient checks also check the math the GPU runs.
//
// The math helpers below give one spelling that resolves to std:: on the host and to CUDA's
// device functions on the GPU.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define SR_HD __host__ __device__
#else
#define SR_HD
#endif

namespace sr::hd {

#if defined(__CUDA_ARCH__)
SR_HD inline float exp(float x) { return ::expf(x); }
SR_HD inline double exp(double x) { return ::exp(x); }
SR_HD inline float log(float x) { return ::logf(x); }
SR_HD inline double log(double x) { return ::log(x); }
SR_HD inline float log1p(float x) { return ::log1pf(x); }
SR_HD inline double log1p(double x) { return ::log1p(x); }
SR_HD inline float sqrt(float x) { return ::sqrtf(x); }
SR_HD inline double sqrt(double x) { return ::sqrt(x); }
SR_HD inline float tanh(float x) { return ::tanhf(x); }
SR_HD inline double tanh(double x) { return ::tanh(x); }
SR_HD inline float cos(float x) { return ::cosf(x); }
SR_HD inline double cos(double x) { return ::cos(x); }
SR_HD inline float abs(float x) { return ::fabsf(x); }
SR_HD inline double abs(double x) { return ::fabs(x); }
SR_HD inline float erf(float x) { return ::erff(x); }
SR_HD inline double erf(double x) { return ::erf(x); }
#else
using std::abs;
using std::cos;
using std::erf;
using std::exp;
using std::log;
using std::log1p;
using std::sqrt;
using std::tanh;
#endif

template <class T>
SR_HD inline T max(T a, T b) { return a > b ? a : b; }
template <class T>
SR_HD inline T min(T a, T b) { return a < b ? a : b; }

}  // namespace sr::hd
