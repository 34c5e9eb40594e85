#include "train/cyclegan.h"

#include "autograd/backward.h"
#include "autograd/node.h"
#include "core/factory.h"
#include "ops/gan_loss.h"
#include "ops/layout.h"
#include "ops/loss.h"

namespace sr {

namespace {

std::vector<Tensor> joined(const Network& a, const Network& b) {
    std::vector<Tensor> params = a.parameters();
    for (const Tensor& p : b.parameters()) params.push_back(p);
    return params;
}

Tensor lsgan(const Tensor& logits, bool real) { return gan_loss(logits, GanType::Lsgan, real, true); }

}  // namespace

CycleGan::CycleGan(std::shared_ptr<Network> g_a, std::shared_ptr<Network> g_b, std::shared_ptr<Network> d_a, std::shared_ptr<Network> d_b,
                   CycleGanOptions options)
    : g_a_(std::move(g_a)), g_b_(std::move(g_b)), d_a_(std::move(d_a)), d_b_(std::move(d_b)), options_(options),
      optimizer_g_(joined(*g_a_, *g_b_), options.adam), optimizer_d_(joined(*d_a_, *d_b_), options.adam),
      pool_a_(options.pool_size), pool_b_(options.pool_size) {}

CycleGanLosses CycleGan::step(const Tensor& real_a, const Tensor& real_b, uint64_t seed, int64_t iteration) {
    const CycleGanOptions& o = options_;
    CycleGanLosses l;
    // Generators. The discriminators' gradients from this pass are thrown away below (zero_grad),
    // as the reference's set_requires_grad(False) avoids computing them.
    const Tensor fake_b = (*g_a_)(real_a), rec_a = (*g_b_)(fake_b);
    const Tensor fake_a = (*g_b_)(real_b), rec_b = (*g_a_)(fake_a);
    optimizer_g_.zero_grad();
    Tensor loss = lsgan((*d_a_)(fake_b), true);
    l.g_a = loss.item();
    const Tensor g_b = lsgan((*d_b_)(fake_a), true);
    l.g_b = g_b.item();
    const Tensor cycle_a = l1_loss(rec_a, real_a) * o.lambda_a, cycle_b = l1_loss(rec_b, real_b) * o.lambda_b;
    l.cycle_a = cycle_a.item();
    l.cycle_b = cycle_b.item();
    loss = loss + g_b + cycle_a + cycle_b;
    if (o.lambda_identity > 0) {
        const Tensor idt_a = l1_loss((*g_a_)(real_b), real_b) * (o.lambda_b * o.lambda_identity);
        const Tensor idt_b = l1_loss((*g_b_)(real_a), real_a) * (o.lambda_a * o.lambda_identity);
        l.idt_a = idt_a.item();
        l.idt_b = idt_b.item();
        loss = loss + idt_a + idt_b;
    }
    backward(loss);
    optimizer_g_.step();
    // Discriminators, on fakes from the pools (detached: nothing flows back into the generators).
    optimizer_d_.zero_grad();
    const Tensor shown_b = pool_b_.query(fake_b, seed, 2 * iteration), shown_a = pool_a_.query(fake_a, seed, 2 * iteration + 1);
    const Tensor d_a = (lsgan((*d_a_)(real_b), true) + lsgan((*d_a_)(shown_b), false)) * 0.5;
    const Tensor d_b = (lsgan((*d_b_)(real_a), true) + lsgan((*d_b_)(shown_a), false)) * 0.5;
    l.d_a = d_a.item();
    l.d_b = d_b.item();
    backward(d_a + d_b);
    optimizer_d_.step();
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
