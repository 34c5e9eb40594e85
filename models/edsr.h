// EDSR (Lim et al., 2017), as BasicSR's EDSR. Spec "edsr", arguments (defaults):
//   num_in_ch 3, num_out_ch 3, num_feat 64, num_block 16, upscale 4 (2, 3, 4 or 8), res_scale 1,
//   img_range 255, rgb_mean 0.4488/0.4371/0.4040
// EDSR-baseline is the default; the paper's EDSR is num_feat=256,num_block=32,res_scale=0.1.
//
//   x = (x - rgb_mean) * img_range;  x = conv_first(x)
//   res = conv_after_body(body(x)) + x,  body = num_block x [x + res_scale * conv2(relu(conv1(x)))]
//   y = conv_last(upsample(res)) / img_range + rgb_mean,  upsample = log2(s) x [conv to 4 num_feat,
//   pixel_shuffle 2], or for s = 3 one conv to 9 num_feat and pixel_shuffle 3.
// The mean is not a parameter (BasicSR does not save it): it comes from the spec.
#pragma once

#include "models/layers.h"
#include "models/spec.h"

namespace sr {

class ResidualBlockNoBN : public Module {
public:
    ResidualBlockNoBN(int64_t num_feat, double res_scale);
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "ResidualBlockNoBN"; }
    Conv2d& conv1;
    Conv2d& conv2;
    double res_scale;
};

// BasicSR's Upsample: an nn.Sequential of convs and pixel shuffles (parameters at 0, 2, 4, ...).
class Upsample : public ModuleList {
public:
    Upsample(int64_t scale, int64_t num_feat);
    Tensor operator()(const Tensor& x) const;
    std::string type_name() const override { return "Upsample"; }

private:
    std::vector<Conv2d*> convs_;
    int64_t shuffle_;
};

class Edsr : public Network {
public:
    explicit Edsr(ModelArgs& args);
    Tensor forward(const Tensor& x) override;
    std::string type_name() const override { return "EDSR"; }

private:
    double img_range_;
    Tensor mean_;
    Conv2d* conv_first_;
    std::vector<ResidualBlockNoBN*> body_;
    Conv2d* conv_after_body_;
    Upsample* upsample_;
    Conv2d* conv_last_;
};

}  // namespace sr
