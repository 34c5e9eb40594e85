#include "ops/instance_norm.h"

#include "autograd/trace.h"
#include "ops/batch_norm.h"
#include "ops/registry.h"

namespace sr {

Tensor instance_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
    TracedOp traced("instance_norm2d");  // one op for an export (ONNX InstanceNormalization), not its parts
    SR_CHECK(x.dim() == 4, "instance_norm2d: input must be [N, C, H, W], got ", x.shape());
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    SR_CHECK(H * W > 1, "instance_norm2d: needs more than one value per plane, got input ", x.shape());
    SR_CHECK(weight.defined() == bias.defined(), "instance_norm2d: weight and bias must be both given or both undefined");
    for (const Tensor* t : {&weight, &bias})
        SR_CHECK(!t->defined() || t->shape() == Shape{C}, "instance_norm2d: weight and bias must be [", C, "] for input ", x.shape(),
                 ", got ", t->shape());
    const Tensor y = batch_norm2d(x.reshape({1, N * C, H, W}), Tensor(), Tensor(), Tensor(), Tensor(), true, 0.0, eps).reshape(x.shape());
    const Tensor out = weight.defined() ? y * weight.reshape({1, C, 1, 1}) + bias.reshape({1, C, 1, 1}) : y;
    return traced.result(out, {x, weight, bias}, {{"eps", eps}});
}

std::vector<OpSpec> instance_norm_specs() {
    return {{"instance_norm2d", __FILE__,
             {{"no affine (CycleGAN)", {{2, 3, 5, 7}}, [](const Tensors& in) { return Tensors{instance_norm2d(in[0])}; }},
              {"affine", {{3, 2, 4, 3}, {2}, {2}}, [](const Tensors& in) { return Tensors{instance_norm2d(in[0], in[1], in[2])}; }},
              {"one sample, 2x1 planes", {{1, 4, 2, 1}}, [](const Tensors& in) { return Tensors{instance_norm2d(in[0])}; }}}}};
}

}  // namespace sr
