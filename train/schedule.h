// Learning-rate schedules, as BasicSR's. The learning rate at an iteration is a pure function of
// the iteration, so resuming a run needs nothing but the iteration number.
//
//   MultiStepLR: base * gamma^(number of milestones <= iter)
//   CosineAnnealingRestartLR: periods p_0, p_1, ... with restart weights w_k; inside period k (iterations start_k+1 .. start_k+p_k),
//     eta_min + w_k (base - eta_min) (1 + cos(pi t / p_k)) / 2,  t = iter - start_k
//   LinearDecayLR (CycleGAN's lr_policy linear): base for the first constant_iter iterations,
//     then base (1 - k / (decay_iter + 1)) at iteration constant_iter + k, k = 1 .. decay_iter
//   linear warm-up (BasicSR's warmup_iter): for iter < warmup, base * iter / warmup instead
// Iterations count from 1, as BasicSR's current_iter.
#pragma once

#include <string>
#include <vector>

namespace sr {

struct LrSchedule {
    std::string type = "MultiStepLR";   // or CosineAnnealingRestartLR, LinearDecayLR, or constant
    double base = 1e-4;
    std::vector<int64_t> milestones;    // MultiStepLR
    double gamma = 0.5;
    std::vector<int64_t> periods;       // CosineAnnealingRestartLR
    std::vector<double> restart_weights;
    double eta_min = 1e-7;
    int64_t constant_iter = 0, decay_iter = 0;  // LinearDecayLR
    int64_t warmup_iter = 0;

    double at(int64_t iter) const;
};

}  // namespace sr
