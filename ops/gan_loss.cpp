#include "ops/gan_loss.h"

#include "core/factory.h"
#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/loss.h"
#include "ops/reduce.h"
#include "ops/registry.h"

namespace sr {

GanType parse_gan_type(const std::string& name) {
    if (name == "vanilla") return GanType::Vanilla;
    if (name == "lsgan") return GanType::Lsgan;
    if (name == "hinge") return GanType::Hinge;
    fail("gan_type must be vanilla, lsgan or hinge, got '", name, "'");
}

std::string gan_type_name(GanType type) {
    switch (type) {
        case GanType::Vanilla: return "vanilla";
        case GanType::Lsgan: return "lsgan";
        case GanType::Hinge: return "hinge";
    }
    return "?";
}

Tensor gan_loss(const Tensor& x, GanType type, bool target_is_real, bool is_disc) {
    SR_CHECK(x.defined() && x.numel() > 0, "gan_loss: empty logits");
    if (type == GanType::Hinge) {
        if (!is_disc) return -mean(x);
        return target_is_real ? mean(relu(-x + 1.0)) : mean(relu(x + 1.0));
    }
    const Tensor label = full(x.shape(), target_is_real ? 1.0 : 0.0, {.dtype = x.dtype(), .device = x.device()});
    return type == GanType::Vanilla ? bce_with_logits(x, label) : mse_loss(x, label);
}

Tensor relativistic_gan_loss_g(const Tensor& real, const Tensor& fake, GanType type) {
    const Tensor real_vs_fake = real - mean(fake), fake_vs_real = fake - mean(real);
    return (gan_loss(real_vs_fake, type, false, false) + gan_loss(fake_vs_real, type, true, false)) * 0.5;
}

std::pair<Tensor, Tensor> relativistic_gan_loss_d(const Tensor& real, const Tensor& fake, GanType type) {
    const Tensor l_real = gan_loss(real - mean(fake.detach()), type, true, true);
    const Tensor l_fake = gan_loss(fake - mean(real.detach()), type, false, true);
    return {l_real * 0.5, l_fake * 0.5};
}

std::vector<OpSpec> gan_loss_specs() {
    // Logits scaled to [-3, 3) so that the sigmoid's both tails are exercised; hinge's kinks at
    // +-1 are avoided.
    auto logits = [](Tensors& in) {
        for (Tensor& t : in) {
            rescale(t, -3.0, 3.0);
            keep_away_from(t, 1.0, 0.05);
            keep_away_from(t, -1.0, 0.05);
        }
    };
    std::vector<OpSpec> specs;
    for (GanType type : {GanType::Vanilla, GanType::Lsgan, GanType::Hinge}) {
        OpSpec spec{"gan_loss " + gan_type_name(type), __FILE__, {}};
        for (bool real : {true, false})
            for (bool disc : {true, false}) {
                if (type == GanType::Hinge && !disc && !real) continue;  // the generator's hinge ignores the label
                spec.cases.push_back({std::string(real ? "real" : "fake") + (disc ? ", discriminator" : ", generator") +
                                          ", per-pixel logits 2x1x4x5",
                                      {{2, 1, 4, 5}},
                                      [=](const Tensors& in) { return Tensors{gan_loss(in[0], type, real, disc)}; }, logits});
            }
        specs.push_back(spec);
        OpSpec ra{"relativistic_gan_loss " + gan_type_name(type), __FILE__, {}};
        ra.cases.push_back({"generator, logits 4x1", {{4, 1}, {4, 1}},
                            [=](const Tensors& in) { return Tensors{relativistic_gan_loss_g(in[0], in[1], type)}; }, logits});
        // The discriminator's loss takes the other kind's mean as a constant, so its value is not
        // a function whose numerical derivative the analytic one must equal; what is checked here
        // is each half with both kinds free (tests/test_gan.cpp checks the detached form against
        // PyTorch).
        ra.cases.push_back({"discriminator's real half gan(C_r - mean(C_f), real), logits 4x1", {{4, 1}, {4, 1}},
                            [=](const Tensors& in) { return Tensors{gan_loss(in[0] - mean(in[1]), type, true, true)}; },
                            logits});
        ra.cases.push_back({"discriminator's fake half gan(C_f - mean(C_r), fake), logits 4x1", {{4, 1}, {4, 1}},
                            [=](const Tensors& in) { return Tensors{gan_loss(in[1] - mean(in[0]), type, false, true)}; },
                            logits});
        specs.push_back(ra);
    }
    return specs;
}

}  // namespace sr
