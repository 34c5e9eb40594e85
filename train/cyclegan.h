// CycleGAN's training step (Zhu et al. 2017), as pytorch-CycleGAN-and-pix2pix's
// CycleGANModel.optimize_parameters: two generators, G_A: A -> B and G_B: B -> A, and two
// discriminators, D_A (is this a real B?) and D_B (a real A?), on unpaired batches real_A, real_B
// with values in [-1, 1].
//
//   fake_B = G_A(real_A), rec_A = G_B(fake_B), fake_A = G_B(real_B), rec_B = G_A(fake_A)
//   generators, with the discriminators fixed:
//     L_G = LSGAN(D_A(fake_B), real) + LSGAN(D_B(fake_A), real)
//         + lambda_A |rec_A - real_A|_1 + lambda_B |rec_B - real_B|_1                     (cycle)
//         + lambda_idt (lambda_B |G_A(real_B) - real_B|_1 + lambda_A |G_B(real_A) - real_A|_1)  (identity)
//   discriminators, each on a fake from its image pool (train/image_pool.h):
//     L_D_A = (LSGAN(D_A(real_B), real) + LSGAN(D_A(pool_B(fake_B)), fake)) / 2, L_D_B likewise.
// LSGAN is the mean squared distance of the patch logits to 1 (real) or 0 (fake) (the reference's
// default gan_mode; vanilla is its other choice). Defaults are the reference's: lambda_A =
// lambda_B = 10, lambda_idt 0.5, Adam 2e-4 with betas (0.5, 0.999), pools of 50.
// The reference has one Adam over both generators and one over both discriminators; here each
// network has its own. Adam works parameter by parameter, and the two of a pair always step
// together, so the updates are the same, and a checkpoint keeps each network with its moments.
#pragma once

#include <memory>

#include <array>

#include "models/module.h"
#include "ops/gan_loss.h"
#include "train/distributed.h"
#include "train/image_pool.h"
#include "train/optim.h"

namespace sr {

struct CycleGanOptions {
    double lambda_a = 10, lambda_b = 10, lambda_identity = 0.5;
    int64_t pool_size = 50;
    GanType gan = GanType::Lsgan;
    AdamOptions adam{.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999};
};

// One of the four networks, with its optimiser.
struct CycleGanPart {
    std::string name;  // g_A, g_B, d_A, d_B
    std::shared_ptr<Network> net;
    std::unique_ptr<Adam> optimizer;
};

struct CycleGanLosses {
    double g_a = 0, g_b = 0, cycle_a = 0, cycle_b = 0, idt_a = 0, idt_b = 0, d_a = 0, d_b = 0;
};

class CycleGan {
public:
    // The four networks, built and initialised (and on their device) by the caller.
    CycleGan(std::shared_ptr<Network> g_a, std::shared_ptr<Network> g_b, std::shared_ptr<Network> d_a, std::shared_ptr<Network> d_b,
             CycleGanOptions options = {});
    // One generator step at learning rate lr_g, then one discriminator step at lr_d. `seed` and
    // `iteration` choose the pools' draws. Under mpirun each rank steps on its own batch and the
    // gradients are averaged over the ranks before each optimiser step (train/distributed.h).
    CycleGanLosses step(const Tensor& real_a, const Tensor& real_b, uint64_t seed, int64_t iteration, double lr_g, double lr_d);
    CycleGanLosses step(const Tensor& real_a, const Tensor& real_b, uint64_t seed, int64_t iteration) {
        return step(real_a, real_b, seed, iteration, options_.adam.lr, options_.adam.lr);
    }

    Network& g_a() { return *parts_[0].net; }
    Network& g_b() { return *parts_[1].net; }
    Network& d_a() { return *parts_[2].net; }
    Network& d_b() { return *parts_[3].net; }
    const std::array<CycleGanPart, 4>& parts() const { return parts_; }  // g_A, g_B, d_A, d_B
    ImagePool& pool_a() { return pool_a_; }
    ImagePool& pool_b() { return pool_b_; }

private:
    std::array<CycleGanPart, 4> parts_;
    CycleGanOptions options_;
    ImagePool pool_a_, pool_b_;  // past fake_A (for D_B) and fake_B (for D_A)
    // backward, with the gradients averaged over the ranks when there are several (a plain
    // backward in one process): the generators' step and the discriminators' step.
    std::unique_ptr<GradientAverager> generators_, discriminators_;
};

// The reference's init_weights('normal', 0.02): every convolution's weight from N(0, 0.02^2), its
// bias 0 (norm layers without affine parameters have nothing to initialise). Draws from srforge's
// own generator, seeded as the caller's manual_seed left it.
void init_cyclegan_weights(Module& net, double gain = 0.02);

}  // namespace sr
