// Training checkpoints: everything a run needs to continue exactly where it stopped, in one
// safetensors file written atomically (temp file, then rename): the network ("net_g.*"), its EMA
// ("net_g_ema.*"), Adam's moments ("optim.exp_avg.*", "optim.exp_avg_sq.*") and, as metadata, the
// iteration, Adam's step count, the best validation PSNR and the model spec. The learning rate
// and every batch are functions of the iteration, so nothing else is needed for a bit-exact resume.
#pragma once

#include <string>

#include "models/module.h"
#include "train/ema.h"
#include "train/optim.h"

namespace sr {

struct RunState {
    int64_t iteration = 0;
    double best_psnr_y = -1;
    int64_t best_iter = 0;
    uint64_t seed = 0;  // every batch is a function of (seed, iteration)
};

void save_checkpoint(const std::string& path, const std::string& model_spec, const Module& net, const Adam& optimizer,
                     const Ema* ema, const RunState& state);

// Restores into an already built network/optimiser/EMA; the file's model spec must be `model_spec`.
RunState load_checkpoint(const std::string& path, const std::string& model_spec, Module& net, Adam& optimizer, Ema* ema);

}  // namespace sr
