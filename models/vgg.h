// VGG19 features (Simonyan & Zisserman, 2015) for perceptual losses, named as torchvision's vgg19
// (`features.{i}.weight` for the 16 convolutions, i = 0, 2, 5, ..., 34), so a converted torchvision
// checkpoint loads directly. Spec "vgg19", arguments (defaults): use_input_norm true (subtract
// ImageNet's mean 0.485/0.456/0.406 and divide by its std 0.229/0.224/0.225), range_norm false
// (map [-1, 1] to [0, 1] first), layer_name_list conv5_4 (which features forward() returns the
// last of; '/' between names).
//
// Layers: conv1_1 conv1_2 pool1 conv2_1 conv2_2 pool2 conv3_1..conv3_4 pool3 conv4_1..conv4_4 pool4
// conv5_1..conv5_4; each conv is 3x3 padding 1 followed by ReLU; pools are 2x2 max, stride 2.
// features() returns "convX_Y" before its ReLU (as BasicSR's VGGFeatureExtractor and ESRGAN's
// perceptual loss use them) and "reluX_Y" after it, running only as deep as the deepest request.
// As in BasicSR, the model only has the layers up to the deepest of layer_name_list; loading a
// full torchvision checkpoint into it leaves the deeper weights unused. Fresh weights are
// initialised as torchvision's vgg19() initialises them (kaiming normal, fan_out; zero bias).
#pragma once

#include <map>

#include "models/layers.h"
#include "models/spec.h"

namespace sr {

class Vgg19Features : public Network {
public:
    explicit Vgg19Features(ModelArgs& args);
    std::map<std::string, Tensor> features(const Tensor& x, const std::vector<std::string>& layers);
    // The last of layer_name_list.
    Tensor forward(const Tensor& x) override;
    std::string type_name() const override { return "VGG19"; }

    static const std::vector<std::string>& layer_names();  // conv1_1, relu1_1, conv1_2, ..., pool5

private:
    bool use_input_norm_, range_norm_;
    std::vector<std::string> default_layers_;
    std::vector<Conv2d*> convs_;  // the convolutions in order, up to the deepest requested layer
    size_t deepest_ = 0;          // index of that layer in layer_names()
};

}  // namespace sr
