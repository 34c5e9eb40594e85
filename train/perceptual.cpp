#include "train/perceptual.h"

#include <sstream>

#include "ops/concat.h"
#include "ops/linear.h"
#include "ops/loss.h"

namespace sr {

Tensor gram_matrix(const Tensor& f) {
    SR_CHECK(f.dim() == 4, "gram_matrix: features must be [N, C, H, W], got ", f.shape());
    const int64_t n = f.size(0), c = f.size(1), hw = f.size(2) * f.size(3);
    std::vector<Tensor> grams;
    for (int64_t i = 0; i < n; ++i) {
        const Tensor m = f.slice(0, i, i + 1).reshape({c, hw});
        grams.push_back(linear(m, m).reshape({1, c, c}));  // m m^T
    }
    return concat(grams, 0) * (1.0 / double(c * hw));
}

std::map<std::string, double> parse_layer_weights(const std::string& text) {
    std::map<std::string, double> out;
    std::stringstream ss(text);
    for (std::string item; std::getline(ss, item, '+');) {
        const size_t colon = item.find(':');
        SR_CHECK(colon != std::string::npos && colon > 0, "perceptual layer weights: '", item,
                 "' is not layer:weight (e.g. conv5_4:1)");
        char* end = nullptr;
        const std::string number = item.substr(colon + 1);
        const double w = std::strtod(number.c_str(), &end);
        SR_CHECK(!number.empty() && *end == '\0', "perceptual layer weights: '", number, "' is not a number");
        out[item.substr(0, colon)] = w;
    }
    SR_CHECK(!out.empty(), "perceptual layer weights: none given");
    return out;
}

std::string layer_weights_text(const std::map<std::string, double>& weights) {
    std::ostringstream s;
    s.precision(12);
    bool first = true;
    for (const auto& [layer, w] : weights) {
        s << (first ? "" : "+") << layer << ":" << w;
        first = false;
    }
    return s.str();
}

PerceptualLoss::PerceptualLoss(const PerceptualOptions& o, Device device) : options_(o) {
    SR_CHECK(o.criterion == "l1" || o.criterion == "l2", "perceptual loss: criterion must be l1 or l2, got '", o.criterion, "'");
    SR_CHECK(!o.layer_weights.empty(), "perceptual loss: no layers");
    std::string list;
    for (const auto& [layer, w] : o.layer_weights) {
        layers_.push_back(layer);
        list += (list.empty() ? "" : "/") + layer;
    }
    ModelArgs args("vgg19:layer_name_list=" + list + ",use_input_norm=" + (o.use_input_norm ? "true" : "false") +
                   ",range_norm=" + (o.range_norm ? "true" : "false"));
    vgg_ = std::make_shared<Vgg19Features>(args);
    if (!o.pretrained.empty()) vgg_->load(o.pretrained, /*allow_unexpected=*/true);  // deeper layers are unused
    vgg_->to(device);
    for (Tensor p : vgg_->parameters()) p.set_requires_grad(false);  // frozen: no gradients are made for it
    vgg_->eval();
}

PerceptualLoss::Terms PerceptualLoss::operator()(const Tensor& sr, const Tensor& gt) const {
    SR_CHECK(sr.shape() == gt.shape(), "perceptual loss: output ", sr.shape(), " and ground truth ", gt.shape(), " differ");
    auto criterion = [&](const Tensor& a, const Tensor& b) { return options_.criterion == "l1" ? l1_loss(a, b) : mse_loss(a, b); };
    const std::map<std::string, Tensor> x = vgg_->features(sr, layers_);
    const std::map<std::string, Tensor> y = vgg_->features(gt.detach(), layers_);
    Terms t;
    for (const auto& [layer, w] : options_.layer_weights) {
        const Tensor& fx = x.at(layer);
        const Tensor fy = y.at(layer).detach();
        if (options_.perceptual_weight > 0) {
            const Tensor term = criterion(fx, fy) * w;
            t.percep = t.percep.defined() ? t.percep + term : term;
        }
        if (options_.style_weight > 0) {
            const Tensor term = criterion(gram_matrix(fx), gram_matrix(fy)) * w;
            t.style = t.style.defined() ? t.style + term : term;
        }
    }
    if (t.percep.defined()) t.percep = t.percep * options_.perceptual_weight;
    if (t.style.defined()) t.style = t.style * options_.style_weight;
    return t;
}

}  // namespace sr
