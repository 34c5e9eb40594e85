#include "autograd/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "autograd/backward.h"
#include "core/factory.h"

namespace sr {

namespace {

// Below this magnitude a relative error says nothing (both values are rounding noise).
constexpr double kRelativeFloor = 1e-6;

double weighted_sum(const std::vector<Tensor>& outputs, const std::vector<std::vector<double>>& weights) {
    double total = 0;
    for (size_t k = 0; k < outputs.size(); ++k) {
        const std::vector<double> y = to_vector(outputs[k]);
        for (size_t i = 0; i < y.size(); ++i) total += y[i] * weights[k][i];
    }
    return total;
}

}  // namespace

GradcheckResult gradcheck(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const std::vector<size_t>& skip,
                          const GradcheckOptions& options) {
    std::vector<Tensor> leaves;
    std::vector<bool> checked(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
        SR_CHECK(inputs[i].dtype() == DType::F64 && inputs[i].is_cpu(),
                 "gradcheck: inputs must be F64 CPU tensors, input ", i, " is ", inputs[i]);
        checked[i] = std::find(skip.begin(), skip.end(), i) == skip.end();
        leaves.push_back(inputs[i].detach().clone());
        if (checked[i]) leaves.back().set_requires_grad(true);
    }

    // Analytic gradients: back-propagate the weights w_k from the outputs.
    std::vector<Tensor> outputs = fn(leaves);
    Generator gen(options.seed);
    std::vector<Tensor> weights;
    std::vector<std::vector<double>> weight_values;
    std::vector<Tensor> roots, root_grads;
    for (const Tensor& y : outputs) {
        weights.push_back(uniform(y.shape(), -1.0, 1.0, {DType::F64}, &gen));
        weight_values.push_back(to_vector(weights.back()));
        if (y.requires_grad()) {
            roots.push_back(y);
            root_grads.push_back(weights.back());
        }
    }
    if (!roots.empty()) backward(roots, root_grads);
    outputs.clear();

    GradcheckResult result;
    double worst_excess = -1;
    NoGradGuard no_grad;
    for (size_t i = 0; i < leaves.size(); ++i) {
        if (!checked[i]) continue;
        const Tensor x = leaves[i];
        const std::vector<double> analytic =
            x.grad().defined() ? to_vector(x.grad()) : std::vector<double>(static_cast<size_t>(x.numel()), 0.0);
        double* data = x.data<double>();  // leaves are fresh contiguous clones
        for (int64_t j = 0; j < x.numel(); ++j) {
            const double saved = data[j];
            data[j] = saved + options.eps;
            const double plus = weighted_sum(fn(leaves), weight_values);
            data[j] = saved - options.eps;
            const double minus = weighted_sum(fn(leaves), weight_values);
            data[j] = saved;
            const double numeric = (plus - minus) / (2 * options.eps);
            const double err = std::abs(analytic[j] - numeric);
            const double allowed = options.atol + options.rtol * std::abs(numeric);
            result.max_abs_error = std::max(result.max_abs_error, err);
            const double scale = std::max(std::abs(numeric), std::abs(analytic[j]));
            if (scale >= kRelativeFloor) result.max_rel_error = std::max(result.max_rel_error, err / scale);
            ++result.checked;
            if (err - allowed > worst_excess) {
                worst_excess = err - allowed;
                std::ostringstream os;
                os << "input " << i << " element " << j << ": analytic " << analytic[j] << ", numeric " << numeric;
                result.worst = os.str();
            }
            if (err > allowed) result.passed = false;
        }
    }
    return result;
}

}  // namespace sr
