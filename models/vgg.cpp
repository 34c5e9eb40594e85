#include "models/vgg.h"

#include <algorithm>
#include <cmath>

#include "autograd/node.h"
#include "core/factory.h"
#include "ops/activation.h"
#include "ops/pool.h"

namespace sr {

namespace {

// torchvision's cfg "E": channels of each conv, 0 for a max pool.
constexpr int64_t kConfig[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0};

std::vector<std::string> split_names(const std::string& list) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        const size_t slash = list.find('/', start);
        out.push_back(list.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
        if (slash == std::string::npos) return out;
        start = slash + 1;
    }
}

}  // namespace

const std::vector<std::string>& Vgg19Features::layer_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> n;
        int block = 1, conv = 1;
        for (int64_t c : kConfig) {
            if (c == 0) {
                n.push_back("pool" + std::to_string(block++));
                conv = 1;
                continue;
            }
            const std::string id = std::to_string(block) + "_" + std::to_string(conv++);
            n.push_back("conv" + id);
            n.push_back("relu" + id);
        }
        return n;
    }();
    return names;
}

Vgg19Features::Vgg19Features(ModelArgs& a) {
    use_input_norm_ = a.flag("use_input_norm", true);
    range_norm_ = a.flag("range_norm", false);
    default_layers_ = split_names(a.text("layer_name_list", "conv5_4"));
    for (const std::string& l : default_layers_) {
        const auto& all = layer_names();
        SR_CHECK(std::find(all.begin(), all.end(), l) != all.end(), "vgg19: unknown layer '", l, "' (conv1_1 ... pool5)");
    }
    // Only the layers up to the deepest one asked for exist (as BasicSR's features[:max_idx + 1]):
    // a perceptual loss on conv2_2 needs 4 convolutions, not 16.
    size_t deepest = 0;
    for (const std::string& l : default_layers_) {
        const auto& all = layer_names();
        deepest = std::max(deepest, static_cast<size_t>(std::find(all.begin(), all.end(), l) - all.begin()));
    }
    auto& features = add("features", ModuleList());
    int64_t index = 0, channels = 3;
    for (int64_t c : kConfig) {
        if (index > static_cast<int64_t>(deepest)) break;
        if (c == 0) {
            ++index;  // a max pool: no parameters
            continue;
        }
        Conv2d& conv = features.put(index, Conv2d(channels, c, 3, {.padding = 1}));
        // torchvision's VGG initialisation (kaiming_normal_, fan_out, ReLU; zero bias): an
        // untrained VGG19 keeps its activations' scale through all 16 layers, so a perceptual loss
        // on random weights (when no ImageNet weights are given) is not vanishingly small.
        {
            NoGradGuard no_grad;
            conv.weight.set_data(normal(conv.weight.shape(), 0, std::sqrt(2.0 / double(c * 9))));
            conv.bias.set_data(zeros(conv.bias.shape()));
        }
        convs_.push_back(&conv);
        channels = c;
        index += 2;  // the conv and its ReLU
    }
    deepest_ = deepest;
}

std::map<std::string, Tensor> Vgg19Features::features(const Tensor& input, const std::vector<std::string>& layers) {
    SR_CHECK(input.dim() == 4 && input.size(1) == 3, "vgg19: input must be [N, 3, H, W], got ", input.shape());
    const auto& all = layer_names();
    size_t deepest = 0;
    for (const std::string& l : layers) {
        const auto it = std::find(all.begin(), all.end(), l);
        SR_CHECK(it != all.end(), "vgg19: unknown layer '", l, "' (conv1_1 ... pool5)");
        deepest = std::max(deepest, static_cast<size_t>(it - all.begin()));
    }
    SR_CHECK(deepest <= deepest_, "vgg19: layer ", all[deepest], " is deeper than this model's layer_name_list reaches (",
             all[deepest_], ")");
    Tensor x = range_norm_ ? (input + 1.0) * 0.5 : input;
    if (use_input_norm_) {
        const Tensor mean = from_vector({0.485, 0.456, 0.406}, {1, 3, 1, 1}, x.dtype()).to(x.device());
        const Tensor std = from_vector({0.229, 0.224, 0.225}, {1, 3, 1, 1}, x.dtype()).to(x.device());
        x = (x - mean) / std;
    }
    std::map<std::string, Tensor> out;
    auto keep = [&](const std::string& name) {
        if (std::find(layers.begin(), layers.end(), name) != layers.end()) out[name] = x;
    };
    size_t conv = 0;
    for (size_t i = 0; i <= deepest; ++i) {
        const std::string& name = all[i];
        if (name.rfind("conv", 0) == 0) x = (*convs_[conv++])(x);
        else if (name.rfind("relu", 0) == 0) x = relu(x);
        else x = max_pool2d(x, 2, 2);
        keep(name);
    }
    return out;
}

Tensor Vgg19Features::forward(const Tensor& x) { return features(x, default_layers_).at(default_layers_.back()); }

}  // namespace sr
