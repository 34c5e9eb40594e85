#include "ops/channel_attention.h"

#include "ops/activation.h"
#include "ops/conv2d.h"
#include "ops/reduce.h"
#include "ops/registry.h"

namespace sr {

Tensor channel_attention(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2) {
    SR_CHECK(x.dim() == 4, "channel_attention: expects [N, C, H, W], got ", x.shape());
    const Tensor squeezed = mean(x, {2, 3}, true);
    const Tensor weights = sigmoid(conv2d(conv2d(squeezed, w1, b1, {.activation = Activation::ReLU}), w2, b2));
    return x * weights;
}

std::vector<OpSpec> channel_attention_specs() {
    return {{"channel_attention", __FILE__,
             {{"6 channels squeezed to 2", {{2, 6, 3, 5}, {2, 6, 1, 1}, {2}, {6, 2, 1, 1}, {6}},
               [](const Tensors& in) { return Tensors{channel_attention(in[0], in[1], in[2], in[3], in[4])}; },
               [](Tensors& in) { keep_away_from(in[2], 0.0, 0.3); }}}}};  // the hidden ReLU away from its kink
}

}  // namespace sr
