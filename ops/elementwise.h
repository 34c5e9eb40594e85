// Arithmetic with NumPy/PyTorch broadcasting. The operators +, -, *, / on Tensor (declared in
// core/tensor.h) call these.
#pragma once

#include "core/tensor.h"

namespace sr {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& x, double s);
Tensor mul_scalar(const Tensor& x, double s);
Tensor neg(const Tensor& x);

}  // namespace sr
