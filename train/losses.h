// The pixel loss of PSNR-oriented training: a weighted sum of terms, as BasicSR's pixel_opt
// (loss_weight per term). Terms: l1, mse, charbonnier (BasicSR's eps 1e-12), ssim (1 - SSIM, an
// 11x11 Gaussian window on RGB in [0, 1]).
//   "l1"                one term, weight 1
//   "l1:1.0+ssim:0.1"   L1 plus 0.1 x (1 - SSIM)
//   "none"              no terms (GAN training without a pixel loss); terms() is then empty
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace sr {

class PixelLoss {
public:
    explicit PixelLoss(const std::string& spec);
    // The total, and each term's weighted value (for metrics.csv; tensors, so that reading them
    // can wait: on a GPU every read synchronises).
    Tensor operator()(const Tensor& sr, const Tensor& hr, std::vector<Tensor>* parts = nullptr) const;
    const std::vector<std::pair<std::string, double>>& terms() const { return terms_; }
    std::string spec() const;

private:
    std::vector<std::pair<std::string, double>> terms_;  // (type, weight)
};

}  // namespace sr
