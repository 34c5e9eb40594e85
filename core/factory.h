// Tensor factories. Random ones draw from a Generator (the default one unless given) through the
// counter-based RNG of core/rng.h, so the same seed gives the same tensor on CPU and CUDA.
//
//   Tensor w = normal({64, 3, 3, 3}, 0.0, 0.02);                  // F32 on the CPU
//   Tensor x = uniform({2, 3, 5, 7}, -1, 1, {DType::F64});         // F64
//   Tensor z = zeros({16, 64}, {.device = Device::cuda()});
#pragma once

#include "core/rng.h"
#include "core/tensor.h"

namespace sr {

struct Options {
    DType dtype = DType::F32;
    Device device = Device::cpu();
};

Tensor zeros(const Shape& shape, Options options = {});
Tensor ones(const Shape& shape, Options options = {});
Tensor full(const Shape& shape, double value, Options options = {});
// [start, start + step, ...) up to but excluding `end`, as a 1-d tensor.
Tensor arange(double start, double end, double step = 1, Options options = {});
Tensor uniform(const Shape& shape, double lo, double hi, Options options = {}, Generator* gen = nullptr);
Tensor normal(const Shape& shape, double mean, double stddev, Options options = {}, Generator* gen = nullptr);

// A CPU tensor holding a copy of `values`, reshaped to `shape` (element counts must agree).
Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype = DType::F32);
// The elements of a tensor in row-major order, as doubles (copied from the GPU when needed).
std::vector<double> to_vector(const Tensor& t);

}  // namespace sr
