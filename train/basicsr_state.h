// Continuing a run that BasicSR started (its option file's path.resume_state). BasicSR leaves a
// stopped run in its experiment folder as
//   training_states/N.state  torch.save({"epoch", "iter": N, "optimizers": [Adam.state_dict(), ...],
//                            "schedulers": [...]}): per optimiser, its hyper-parameters and, per
//                            parameter *index*, "step", "exp_avg" and "exp_avg_sq";
//   models/net_g_N.pth       {"params": the network[, "params_ema": its EMA]}, and net_d_N.pth for a GAN.
// As BasicSR's own resume does (check_resume), the networks come from models/ and the optimisers
// from the state. Optimiser index i is the i-th parameter of BasicSR's network, and PyTorch writes
// a state dict in that order (each module's parameters, then its buffers), so the weights file
// names every index; srforge's names are BasicSR's.
//
// What srforge recomputes rather than reads: the learning rate and the scheduler (functions of the
// iteration here, given the same option file) and the epoch. What is lost: the best validation so
// far, and BasicSR's batch order (srforge's batches are its own, from its seed).
#pragma once

#include <cstdint>
#include <string>

#include "train/checkpoint.h"

namespace sr {

// Whether a file is a PyTorch one (a BasicSR .state) rather than a srforge checkpoint, by its first bytes.
bool is_pytorch_file(const std::string& path);

// Restores the networks, their optimisers and the EMA, built as the option file says, from
// `state_path` and the weights beside it. The returned state has `seed` as its seed.
RunState load_basicsr_state(const std::string& state_path, const Trained& generator, Ema* ema, const Trained* discriminator,
                            uint64_t seed);

}  // namespace sr
