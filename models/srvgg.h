// Real-ESRGAN's compact network, SRVGGNetCompact (Wang et al., Real-ESRGAN, 2021;
// realesr-animevideov3 and realesr-general-x4v3), named as realesrgan/archs/srvgg_arch.py names it so
// its released weights load. Spec "srvgg_compact", arguments (defaults): num_in_ch 3, num_out_ch 3,
// num_feat 64, num_conv 16, upscale 4, act_type prelu (or relu, leakyrelu: slope 0.1).
//   body.0 conv 3x3, body.1 activation, then num_conv x [conv 3x3, activation] (body.2 ... ),
//   body.{2 num_conv + 2} conv 3x3 to num_out_ch x upscale^2 channels
//   y = pixel_shuffle(body(x), upscale) + nearest(x, upscale)
// All convolutions run at the input's resolution: the upscale is the last step, which makes it fast.
// PReLU has one slope per feature channel.
#pragma once

#include "models/layers.h"
#include "models/spec.h"

namespace sr {

class SrVggNetCompact : public Network {
public:
    explicit SrVggNetCompact(ModelArgs& args);
    Tensor forward(const Tensor& x) override;
    std::string type_name() const override { return "SRVGGNetCompact"; }

private:
    enum class Act { PReLU, ReLU, LeakyReLU };
    Tensor activate(const Tensor& x, size_t i) const;
    int64_t upscale_;
    Act act_;
    std::vector<Conv2d*> convs_;   // every convolution of the body, in order
    std::vector<PReLU*> prelus_;   // one after each convolution but the last (act_type prelu)
};

}  // namespace sr
