#include "ops/drop_path.h"

#include "core/factory.h"
#include "core/rng.h"
#include "ops/registry.h"

namespace sr {

Tensor drop_path(const Tensor& x, double p, Generator* gen) {
    SR_CHECK(p >= 0 && p <= 1, "drop_path: drop probability must be in [0, 1], got ", p);
    SR_CHECK(x.dim() >= 1, "drop_path: expects a batch [B, ...], got ", x.shape());
    if (p == 0) return x;
    const int64_t B = x.size(0);
    // The draws on the CPU (B numbers), so that one seed drops the same samples on every device.
    const Tensor u = uniform({B}, 0.0, 1.0, {DType::F64}, gen);
    std::vector<double> scale(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) scale[static_cast<size_t>(b)] = (p < 1 && u.data<double>()[b] < 1 - p) ? 1 / (1 - p) : 0.0;
    Shape shape(static_cast<size_t>(x.dim()), 1);
    shape[0] = B;
    return x * from_vector(scale, shape, x.dtype()).to(x.device());
}

std::vector<OpSpec> drop_path_specs() {
    return {{"drop_path", __FILE__,
             {{"p=0.5 over 6 samples, fixed seed", {{6, 4, 3}}, [](const Tensors& in) {
                   Generator gen(11);  // the same samples dropped at every call of the check
                   return Tensors{drop_path(in[0], 0.5, &gen)};
               }}}}};
}

}  // namespace sr
