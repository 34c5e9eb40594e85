#include "train/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace sr {

double LrSchedule::at(int64_t iter) const {
    double lr = base;
    if (type == "MultiStepLR") {
        for (int64_t m : milestones)
            if (iter >= m) lr *= gamma;
    } else if (type == "CosineAnnealingRestartLR") {
        SR_CHECK(!periods.empty(), "CosineAnnealingRestartLR: periods must not be empty");
        // As BasicSR: period k holds the iterations (start_k, start_k + p_k], so the last
        // iteration of a period reaches eta_min and the next one restarts.
        int64_t start = 0;
        size_t k = 0;
        while (k + 1 < periods.size() && iter > start + periods[k]) start += periods[k++];
        const double weight = k < restart_weights.size() ? restart_weights[k] : 1.0;
        const double t = std::clamp<double>(double(iter - start), 0.0, double(periods[k]));
        lr = eta_min + weight * (base - eta_min) * 0.5 * (1 + std::cos(M_PI * t / double(periods[k])));
    } else if (type == "LinearDecayLR") {
        // The reference's 1 - max(0, epoch - n_epochs) / (n_epochs_decay + 1), counted in iterations.
        const int64_t k = std::clamp<int64_t>(iter - constant_iter, 0, decay_iter);
        lr = base * (1.0 - double(k) / double(decay_iter + 1));
    } else {
        SR_CHECK(type == "constant", "scheduler: unknown type '", type, "' (MultiStepLR, CosineAnnealingRestartLR, LinearDecayLR, constant)");
    }
    // BasicSR's warm-up replaces the schedule by a ramp of the initial rate.
    if (warmup_iter > 0 && iter < warmup_iter) lr = base * double(iter) / double(warmup_iter);
    return lr;
}

}  // namespace sr
