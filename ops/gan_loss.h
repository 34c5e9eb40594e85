// Adversarial losses, as BasicSR's GANLoss (real label 1, fake label 0), on a discriminator's raw
// logits of any shape (one per image for a VGG-style discriminator, one per pixel for the U-Net):
//   vanilla  binary cross-entropy with logits against the label (SRGAN, Real-ESRGAN)
//   lsgan    mean squared error against the label (Mao et al., 2017)
//   hinge    discriminator: mean(relu(1 - x)) on real, mean(relu(1 + x)) on fake;
//            generator: -mean(x) (target_is_real is then ignored)
// ESRGAN's relativistic average discriminator (Jolicoeur-Martineau, 2018) compares each logit with
// the mean logit of the other kind; with C_r, C_f the logits of real and generated images:
//   generator:      [gan(C_r - mean(C_f), fake) + gan(C_f - mean(C_r), real)] / 2
//   discriminator:   gan(C_r - mean(C_f), real) / 2 + gan(C_f - mean(C_r), fake) / 2, with the
//                    other kind's mean taken as a constant (detached), as BasicSR's ESRGANModel.
// The loss weight (gan_opt.loss_weight) is applied by the caller to the generator's loss only.
// Composed of differentiable ops, so gradients flow to every logit that requires them.
#pragma once

#include <string>
#include <utility>

#include "core/tensor.h"

namespace sr {

enum class GanType { Vanilla, Lsgan, Hinge };

// "vanilla" | "lsgan" | "hinge"; anything else is an error naming the choices.
GanType parse_gan_type(const std::string& name);
std::string gan_type_name(GanType type);

Tensor gan_loss(const Tensor& logits, GanType type, bool target_is_real, bool is_disc);

Tensor relativistic_gan_loss_g(const Tensor& real_logits, const Tensor& fake_logits, GanType type);
// The discriminator's two halves (each already halved): {real half, fake half}; their sum is the loss.
std::pair<Tensor, Tensor> relativistic_gan_loss_d(const Tensor& real_logits, const Tensor& fake_logits, GanType type);

}  // namespace sr
