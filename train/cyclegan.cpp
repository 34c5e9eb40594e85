#include "train/cyclegan.h"

#include "autograd/backward.h"
#include "autograd/node.h"
#include "core/factory.h"
#include "ops/gan_loss.h"
#include "ops/layout.h"
#include "ops/loss.h"

namespace sr {

namespace {

CycleGanPart part(std::string name, std::shared_ptr<Network> net, const AdamOptions& adam) {
    SR_CHECK(net, "CycleGan: network ", name, " is missing");
    auto optimizer = std::make_unique<Adam>(net->parameters(), adam);
    return {std::move(name), std::move(net), std::move(optimizer)};
}

void set_trainable(Network& net, bool trainable) {
    for (Tensor w : net.parameters()) w.set_requires_grad(trainable);
}

}  // namespace

CycleGan::CycleGan(std::shared_ptr<Network> g_a, std::shared_ptr<Network> g_b, std::shared_ptr<Network> d_a, std::shared_ptr<Network> d_b,
                   CycleGanOptions options)
    : parts_{part("g_A", std::move(g_a), options.adam), part("g_B", std::move(g_b), options.adam), part("d_A", std::move(d_a), options.adam),
             part("d_B", std::move(d_b), options.adam)},
      options_(options), pool_a_(options.pool_size), pool_b_(options.pool_size) {
    auto params_of = [&](size_t first) {
        std::vector<Tensor> params = parts_[first].net->parameters();
        for (const Tensor& p : parts_[first + 1].net->parameters()) params.push_back(p);
        return params;
    };
    generators_ = std::make_unique<GradientAverager>(params_of(0));
    discriminators_ = std::make_unique<GradientAverager>(params_of(2));
}

CycleGanLosses CycleGan::step(const Tensor& real_a, const Tensor& real_b, uint64_t seed, int64_t iteration, double lr_g, double lr_d) {
    const CycleGanOptions& o = options_;
    Network &g_a = *parts_[0].net, &g_b = *parts_[1].net, &d_a = *parts_[2].net, &d_b = *parts_[3].net;
    auto lsgan = [&](const Tensor& logits, bool real) { return gan_loss(logits, o.gan, real, true); };
    for (CycleGanPart& p : parts_) {
        p.optimizer->set_lr(p.name[0] == 'g' ? lr_g : lr_d);
        p.optimizer->zero_grad();
    }
    CycleGanLosses l;
    // Generators, with the discriminators frozen (the reference's set_requires_grad(False)).
    set_trainable(d_a, false);
    set_trainable(d_b, false);
    const Tensor fake_b = g_a(real_a), rec_a = g_b(fake_b);
    const Tensor fake_a = g_b(real_b), rec_b = g_a(fake_a);
    Tensor loss = lsgan(d_a(fake_b), true);
    l.g_a = loss.item();
    const Tensor g_b_loss = lsgan(d_b(fake_a), true);
    l.g_b = g_b_loss.item();
    const Tensor cycle_a = l1_loss(rec_a, real_a) * o.lambda_a, cycle_b = l1_loss(rec_b, real_b) * o.lambda_b;
    l.cycle_a = cycle_a.item();
    l.cycle_b = cycle_b.item();
    loss = loss + g_b_loss + cycle_a + cycle_b;
    if (o.lambda_identity > 0) {
        const Tensor idt_a = l1_loss(g_a(real_b), real_b) * (o.lambda_b * o.lambda_identity);
        const Tensor idt_b = l1_loss(g_b(real_a), real_a) * (o.lambda_a * o.lambda_identity);
        l.idt_a = idt_a.item();
        l.idt_b = idt_b.item();
        loss = loss + idt_a + idt_b;
    }
    generators_->backward(loss);
    parts_[0].optimizer->step();
    parts_[1].optimizer->step();
    // Discriminators, on fakes from the pools (detached: nothing flows back into the generators).
    set_trainable(d_a, true);
    set_trainable(d_b, true);
    const Tensor shown_b = pool_b_.query(fake_b, seed, 2 * iteration), shown_a = pool_a_.query(fake_a, seed, 2 * iteration + 1);
    const Tensor d_a_loss = (lsgan(d_a(real_b), true) + lsgan(d_a(shown_b), false)) * 0.5;
    const Tensor d_b_loss = (lsgan(d_b(real_a), true) + lsgan(d_b(shown_a), false)) * 0.5;
    l.d_a = d_a_loss.item();
    l.d_b = d_b_loss.item();
    discriminators_->backward(d_a_loss + d_b_loss);
    parts_[2].optimizer->step();
    parts_[3].optimizer->step();
    return l;
}

void init_cyclegan_weights(Module& net, double gain) {
    NoGradGuard no_grad;
    for (auto& [name, p] : net.named_parameters()) {
        const bool weight = name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0;
        copy_(p, weight && p.dim() > 1 ? normal(p.shape(), 0.0, gain, {p.dtype(), p.device()}) : zeros(p.shape(), {p.dtype(), p.device()}));
    }
}

}  // namespace sr
