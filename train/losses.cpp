#include "train/losses.h"

#include <cstdlib>
#include <sstream>

#include "ops/elementwise.h"
#include "ops/loss.h"
#include "ops/ssim.h"

namespace sr {

PixelLoss::PixelLoss(const std::string& spec) {
    if (spec == "none") return;  // no pixel term (SRGAN's paper recipe: perceptual + adversarial only)
    size_t start = 0;
    while (start <= spec.size()) {
        const size_t plus = spec.find('+', start);
        const std::string term = spec.substr(start, plus == std::string::npos ? std::string::npos : plus - start);
        const size_t colon = term.find(':');
        const std::string type = term.substr(0, colon);
        double weight = 1;
        if (colon != std::string::npos) {
            char* end = nullptr;
            weight = std::strtod(term.c_str() + colon + 1, &end);
            SR_CHECK(*end == '\0' && colon + 1 < term.size(), "loss: bad weight in '", term, "'");
        }
        SR_CHECK(type == "l1" || type == "mse" || type == "charbonnier" || type == "ssim", "loss: unknown term '", type,
                 "' in '", spec, "' (l1, mse, charbonnier, ssim; combine as l1:1.0+ssim:0.1)");
        terms_.emplace_back(type, weight);
        if (plus == std::string::npos) break;
        start = plus + 1;
    }
}

std::string PixelLoss::spec() const {
    if (terms_.empty()) return "none";
    std::ostringstream os;
    for (size_t i = 0; i < terms_.size(); ++i) os << (i ? "+" : "") << terms_[i].first << ":" << terms_[i].second;
    return os.str();
}

Tensor PixelLoss::operator()(const Tensor& sr, const Tensor& hr, std::vector<Tensor>* parts) const {
    Tensor total;
    for (const auto& [type, weight] : terms_) {
        Tensor term;
        if (type == "l1") term = l1_loss(sr, hr);
        else if (type == "mse") term = mse_loss(sr, hr);
        else if (type == "charbonnier") term = charbonnier_loss(sr, hr);
        else term = neg(ssim(sr, hr)) + 1.0;
        if (weight != 1) term = term * weight;
        if (parts) parts->push_back(term.detach());
        total = total.defined() ? total + term : term;
    }
    return total;
}

}  // namespace sr
