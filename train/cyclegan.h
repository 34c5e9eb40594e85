// CycleGAN's training step (Zhu et al. 2017), as pytorch-CycleGAN-and-pix2pix's
// CycleGANModel.optimize_parameters: two generators, G_A: A -> B and G_B: B -> A, and two
// discriminators, D_A (is this a real B?) and D_B (a real A?), on unpaired batches real_A, real_B
// with values in [-1, 1].
//
//   fake_B = G_A(real_A), rec_A = G_B(fake_B), fake_A = G_B(real_B), rec_B = G_A(fake_A)
//   generators (one Adam over G_A's and G_B's parameters), with the discriminators fixed:
//     L_G = LSGAN(D_A(fake_B), real) + LSGAN(D_B(fake_A), real)
//         + lambda_A |rec_A - real_A|_1 + lambda_B |rec_B - real_B|_1                     (cycle)
//         + lambda_idt (lambda_B |G_A(real_B) - real_B|_1 + lambda_A |G_B(real_A) - real_A|_1)  (identity)
//   discriminators (one Adam over both), each on a fake from its image pool (train/image_pool.h):
//     L_D_A = (LSGAN(D_A(real_B), real) + LSGAN(D_A(pool_B(fake_B)), fake)) / 2, L_D_B likewise.
// LSGAN is the mean squared distance of the patch logits to 1 (real) or 0 (fake). Defaults are the
// reference's: lambda_A = lambda_B = 10, lambda_idt 0.5, Adam 2e-4 with betas (0.5, 0.999), pools of 50.
#pragma once

#include <memory>

#include "models/module.h"
#include "train/image_pool.h"
#include "train/optim.h"

namespace sr {

struct CycleGanOptions {
    double lambda_a = 10, lambda_b = 10, lambda_identity = 0.5;
    int64_t pool_size = 50;
    AdamOptions adam{.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999};
};

struct CycleGanLosses {
    double g_a = 0, g_b = 0, cycle_a = 0, cycle_b = 0, idt_a = 0, idt_b = 0, d_a = 0, d_b = 0;
};

class CycleGan {
public:
    // The four networks, built and initialised (and on their device) by the caller.
    CycleGan(std::shared_ptr<Network> g_a, std::shared_ptr<Network> g_b, std::shared_ptr<Network> d_a, std::shared_ptr<Network> d_b,
             CycleGanOptions options = {});
    // One generator step, then one discriminator step. `seed` and `iteration` choose the pools' draws.
    CycleGanLosses step(const Tensor& real_a, const Tensor& real_b, uint64_t seed, int64_t iteration);

    Network& g_a() { return *g_a_; }
    Network& g_b() { return *g_b_; }
    Network& d_a() { return *d_a_; }
    Network& d_b() { return *d_b_; }
    Adam& optimizer_g() { return optimizer_g_; }
    Adam& optimizer_d() { return optimizer_d_; }

private:
    std::shared_ptr<Network> g_a_, g_b_, d_a_, d_b_;
    CycleGanOptions options_;
    Adam optimizer_g_, optimizer_d_;
    ImagePool pool_a_, pool_b_;  // past fake_A (for D_B) and fake_B (for D_A)
};

// The reference's init_weights('normal', 0.02): every convolution's weight from N(0, 0.02^2), its
// bias 0 (norm layers without affine parameters have nothing to initialise). Draws from srforge's
// own generator, seeded as the caller's manual_seed left it.
void init_cyclegan_weights(Module& net, double gain = 0.02);

}  // namespace sr
