// Gradient checking: compares the gradients backward() computes with central differences.
//
// The op's outputs y_k are reduced to one number with fixed random weights w_k,
// L = sum_k <y_k, w_k>, so every output element matters. For every element x_j of every checked
// input, numeric dL/dx_j = (L(x_j + eps) - L(x_j - eps)) / (2 eps) with eps = 1e-6, in float64,
// and the check passes iff |analytic - numeric| <= 1e-5 + 1e-3 |numeric| for all of them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sr {

struct GradcheckResult {
    bool passed = true;
    double max_abs_error = 0;  // max |analytic - numeric|
    double max_rel_error = 0;  // max |analytic - numeric| / max(|analytic|, |numeric|), over
                               // the elements where that magnitude is at least 1e-6
    int64_t checked = 0;       // number of input elements checked
    std::string worst;         // where the largest violation (or error) was, for messages
};

struct GradcheckOptions {
    double eps = 1e-6;
    double atol = 1e-5;
    double rtol = 1e-3;
    uint64_t seed = 1234;  // of the output weights w_k
};

// `inputs` must be F64 CPU tensors; `skip` lists inputs to leave unchecked (state buffers, for
// instance). `fn` must be a pure function of its inputs.
GradcheckResult gradcheck(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const std::vector<size_t>& skip = {},
                          const GradcheckOptions& options = {});

}  // namespace sr
