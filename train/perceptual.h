// The perceptual loss of SRGAN/ESRGAN/Real-ESRGAN, as BasicSR's PerceptualLoss: VGG19 features of
// the output and of the ground truth, compared layer by layer.
//
//   percep = perceptual_weight * sum_k  layer_weights[k] * criterion(phi_k(sr), phi_k(gt))
//   style  = style_weight      * sum_k  layer_weights[k] * criterion(gram(phi_k(sr)), gram(phi_k(gt)))
//   gram(F) = F F^T / (C H W) per image, F the [C, H W] feature matrix
//
// phi_k is VGG19's layer k (conv1_2 ... conv5_4 before their ReLU, as ESRGAN; relu5_4 and the rest
// after it) with ImageNet's mean/std input normalisation (use_input_norm). criterion: l1 or l2
// (mean absolute / mean squared difference). The ground truth's features carry no gradient and
// the VGG's weights are frozen.
//
// The weights must be ImageNet-trained VGG19 (torchvision's vgg19-dcbb9e9d.pth, read directly; its
// classifier is ignored, or the same converted to safetensors). They cannot be downloaded on
// our machines: without `pretrained` the VGG keeps seeded random weights, which still train but
// are not the published loss; `pretrained()` says which, and train_sr says it at start.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/device.h"
#include "core/tensor.h"
#include "models/vgg.h"

namespace sr {

struct PerceptualOptions {
    std::map<std::string, double> layer_weights = {{"conv5_4", 1.0}};
    bool use_input_norm = true, range_norm = false;
    std::string criterion = "l1";  // l1 | l2
    double perceptual_weight = 1.0, style_weight = 0.0;
    std::string pretrained;        // safetensors of torchvision's vgg19 features; empty: random weights
};

class PerceptualLoss {
public:
    PerceptualLoss(const PerceptualOptions& options, Device device);
    struct Terms {
        Tensor percep, style;  // undefined when its weight is 0
    };
    Terms operator()(const Tensor& sr, const Tensor& gt) const;

    bool pretrained() const { return !options_.pretrained.empty(); }
    Vgg19Features& vgg() { return *vgg_; }
    const PerceptualOptions& options() const { return options_; }

private:
    PerceptualOptions options_;
    std::shared_ptr<Vgg19Features> vgg_;
    std::vector<std::string> layers_;
};

// Gram matrices [N, C, C] of features [N, C, H, W], divided by C H W (BasicSR's _gram_mat).
Tensor gram_matrix(const Tensor& features);

// "conv1_2:0.1+conv2_2:0.1+conv3_4:1" <-> layer weights, for flags and config.yaml.
std::map<std::string, double> parse_layer_weights(const std::string& text);
std::string layer_weights_text(const std::map<std::string, double>& weights);

}  // namespace sr
