// Training checkpoints: everything a run needs to continue exactly where it stopped, in one
// safetensors file written atomically (temp file, then rename): the network ("net_g.*"), its EMA
// ("net_g_ema.*"), Adam's moments ("optim.exp_avg.*", "optim.exp_avg_sq.*") and, as metadata, the
// iteration, Adam's step count, the best validation PSNR and the model spec. A GAN run adds its
// discriminator ("net_d.*", "optim_d.*", metadata model_d and optim_d.steps); a run on synthetic
// degradations its training-pair pool ("pool.*"). A CycleGAN run has four networks, each under its
// own name ("net_g_A.*", "optim_g_A.*", metadata model_g_A and optim_g_A.steps; the list in
// "parts"), and its two image pools as "pool.*". The learning rate
// and every batch are functions of the iteration, so nothing else is needed for a bit-exact resume.
#pragma once

#include <string>
#include <vector>

#include "models/module.h"
#include "train/ema.h"
#include "train/optim.h"

namespace sr {

struct RunState {
    int64_t iteration = 0;
    double best_psnr_y = -1;
    int64_t best_iter = 0;
    uint64_t seed = 0;  // every batch is a function of (seed, iteration)
    NamedTensors pool;  // Real-ESRGAN's training-pair pool ("pool.*" in the file), when the run has one
};

// A trained network with its optimiser: the generator, or a GAN's discriminator.
struct Trained {
    std::string spec;  // the model spec, checked on loading
    Module* net;
    Adam* optimizer;
};

// `discriminator` is null for PSNR-oriented runs.
void save_checkpoint(const std::string& path, const Trained& generator, const Ema* ema, const Trained* discriminator,
                     const RunState& state);

// Restores into already built networks/optimisers/EMA; the file's model specs must be theirs.
RunState load_checkpoint(const std::string& path, const Trained& generator, Ema* ema, const Trained* discriminator);

// Several networks under their names (CycleGAN's g_A, g_B, d_A, d_B); loading needs the same list.
struct NamedTrained {
    std::string name;
    Trained trained;
};
void save_checkpoint(const std::string& path, const std::vector<NamedTrained>& parts, const RunState& state);
RunState load_checkpoint(const std::string& path, const std::vector<NamedTrained>& parts);

}  // namespace sr
