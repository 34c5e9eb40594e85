// Adversarial and perceptual losses against PyTorch (tests/fixtures/gan.safetensors, made by
// tools/reference/make_gan_fixtures.py from BasicSR's definitions). Their float64 gradient checks
// are in the op registry (test_gradcheck) and below for the perceptual loss.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "autograd/backward.h"
#include "autograd/gradcheck.h"
#include "core/safetensors.h"
#include "models/spec.h"
#include "ops/gan_loss.h"
#include "ops/layout.h"
#include "test_util.h"
#include "train/cyclegan.h"
#include "train/image_pool.h"
#include "train/perceptual.h"

using namespace sr;

namespace {

const SafetensorsFile& fixture() {
    static const SafetensorsFile f = read_safetensors(std::string(SR_SOURCE_DIR) + "/tests/fixtures/gan.safetensors");
    return f;
}

Tensor fx(const std::string& name) {
    for (const auto& [n, t] : fixture().tensors)
        if (n == name) return t;
    FAIL("fixture has no ", name);
    return Tensor();
}

void check_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
    const Difference d = largest_difference(got, want);
    INFO(what, ": worst |got - want| ", d.worst, " at ", d.at, " (got ", d.got, ", want ", d.want, ")");
    CHECK(d.worst <= tol * std::max(1.0, d.scale));
}

// The VGG's "hash weights", made as tools/reference/make_gan_fixtures.py makes them.
std::vector<double> hash_uniform(int64_t n, uint64_t offset) {
    std::vector<double> u(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) u[size_t(i)] = double((uint64_t(i) * 2654435761ULL + offset) % (1ULL << 32)) / 4294967296.0;
    return u;
}

void hash_fill(Vgg19Features& vgg) {
    NoGradGuard no_grad;
    const NamedTensors params = vgg.named_parameters();
    for (size_t k = 0; k + 1 < params.size(); k += 2) {
        const uint64_t L = k / 2;
        const Tensor& w = params[k].second;
        const Tensor& b = params[k + 1].second;
        const double bound = std::sqrt(6.0 / double(w.size(1) * 9));
        std::vector<double> wv = hash_uniform(w.numel(), (L + 1) * 40503);
        for (double& v : wv) v = float((2 * v - 1) * bound);
        std::vector<double> bv = hash_uniform(b.numel(), (L + 1) * 7919 + 12345);
        for (double& v : bv) v = float((2 * v - 1) / 100);
        copy_(const_cast<Tensor&>(w), from_vector(wv, w.shape()));
        copy_(const_cast<Tensor&>(b), from_vector(bv, b.shape()));
    }
}

}  // namespace

TEST_CASE("GAN losses equal BasicSR's GANLoss, values and gradients") {
    const Tensor real = fx("logits.real"), fake = fx("logits.fake");
    for (GanType type : {GanType::Vanilla, GanType::Lsgan, GanType::Hinge}) {
        for (bool target_is_real : {true, false})
            for (bool is_disc : {true, false}) {
                const std::string key =
                    gan_type_name(type) + "." + (target_is_real ? "real" : "fake") + "." + (is_disc ? "d" : "g");
                Tensor x = real.clone().set_requires_grad(true);
                const Tensor loss = gan_loss(x, type, target_is_real, is_disc);
                backward(loss);
                check_close(loss.reshape({1}), fx(key + ".loss"), 1e-12, key + " loss");
                check_close(x.grad(), fx(key + ".grad"), 1e-12, key + " gradient");
            }
        const std::string ra = "ragan." + gan_type_name(type);
        {
            Tensor f = fake.clone().set_requires_grad(true);
            const Tensor loss = relativistic_gan_loss_g(real, f, type);
            backward(loss);
            check_close(loss.reshape({1}), fx(ra + ".g.loss"), 1e-12, ra + " generator loss");
            check_close(f.grad(), fx(ra + ".g.grad_fake"), 1e-12, ra + " generator gradient");
        }
        {
            Tensor r = real.clone().set_requires_grad(true), f = fake.clone().set_requires_grad(true);
            const auto [l_real, l_fake] = relativistic_gan_loss_d(r, f, type);
            const Tensor loss = l_real + l_fake;
            backward(loss);
            check_close(loss.reshape({1}), fx(ra + ".d.loss"), 1e-12, ra + " discriminator loss");
            check_close(r.grad(), fx(ra + ".d.grad_real"), 1e-12, ra + " discriminator gradient (real)");
            check_close(f.grad(), fx(ra + ".d.grad_fake"), 1e-12, ra + " discriminator gradient (fake)");
        }
    }
    CHECK(error_of([] { parse_gan_type("wgan"); }).find("vanilla, lsgan or hinge") != std::string::npos);
}

TEST_CASE("perceptual and style losses equal BasicSR's PerceptualLoss on the same VGG19 weights") {
    struct Case {
        std::string name, layers, criterion;
        double style;
    };
    for (const Case& c : {Case{"realesrgan", "conv1_2:0.1+conv2_2:0.1+conv3_4:1+conv4_4:1+conv5_4:1", "l1", 0.5},
                          Case{"srgan", "relu5_4:1", "l2", 0.0}}) {
        PerceptualOptions o;
        o.layer_weights = parse_layer_weights(c.layers);
        o.criterion = c.criterion;
        o.style_weight = c.style;
        PerceptualLoss loss(o, Device::cpu());
        CHECK(!loss.pretrained());
        hash_fill(loss.vgg());
        Tensor x = fx("percep.x").clone().set_requires_grad(true);
        const PerceptualLoss::Terms t = loss(x, fx("percep.gt"));
        const Tensor total = t.style.defined() ? t.percep + t.style : t.percep;
        backward(total);
        check_close(t.percep.reshape({1}), fx("percep." + c.name + ".percep"), 2e-5, c.name + " perceptual");
        if (c.style > 0) check_close(t.style.reshape({1}), fx("percep." + c.name + ".style"), 2e-5, c.name + " style");
        else CHECK(!t.style.defined());
        check_close(x.grad(), fx("percep." + c.name + ".grad"), 1e-4, c.name + " gradient");
        // The VGG is frozen: no gradient reached its weights.
        for (const Tensor& p : loss.vgg().parameters()) CHECK(!p.grad().defined());
    }
}

TEST_CASE("perceptual loss with a Gram term passes the float64 gradient check") {
    PerceptualOptions o;
    o.layer_weights = {{"conv1_2", 0.5}, {"relu2_1", 1.0}};
    o.style_weight = 2.0;
    o.criterion = "l2";
    PerceptualLoss loss(o, Device::cpu());
    for (const auto& [name, t] : loss.vgg().state_dict()) t.set_data(t.detach().to(DType::F64));
    const Tensor gt = uniform({1, 3, 6, 6}, 0.0, 1.0, {.dtype = DType::F64});
    const Tensor x = uniform({1, 3, 6, 6}, 0.0, 1.0, {.dtype = DType::F64});
    const GradcheckResult r = gradcheck(
        [&](const Tensors& in) {
            const PerceptualLoss::Terms t = loss(in[0], gt);
            return Tensors{t.percep + t.style};
        },
        {x});
    INFO(r.worst);
    CHECK(r.passed);
    // gram_matrix alone, batch of 2.
    const GradcheckResult g = gradcheck([](const Tensors& in) { return Tensors{gram_matrix(in[0])}; },
                                        {uniform({2, 3, 2, 3}, -1.0, 1.0, {.dtype = DType::F64})});
    INFO(g.worst);
    CHECK(g.passed);
}

TEST_CASE("perceptual loss options are checked") {
    CHECK(error_of([] { parse_layer_weights("conv5_4"); }).find("layer:weight") != std::string::npos);
    CHECK(error_of([] { parse_layer_weights("conv5_4:x"); }).find("not a number") != std::string::npos);
    CHECK(layer_weights_text(parse_layer_weights("conv5_4:1+conv1_2:0.1")) == "conv1_2:0.1+conv5_4:1");
    PerceptualOptions o;
    o.criterion = "fro";
    CHECK(error_of([&] { PerceptualLoss(o, Device::cpu()); }).find("l1 or l2") != std::string::npos);
    o.criterion = "l1";
    o.layer_weights = {{"conv6_1", 1.0}};
    CHECK(error_of([&] { PerceptualLoss(o, Device::cpu()); }).find("unknown layer") != std::string::npos);
}

TEST_CASE("CycleGAN's image pool: fills first, then shows an older fake half of the time; resumes exactly") {
    auto batch = [](int64_t iteration) {  // two images whose every value is the iteration and their index
        Tensor t = Tensor::empty({2, 1, 2, 2}, DType::F32, Device::cpu());
        for (int64_t i = 0; i < 8; ++i) t.data<float>()[i] = float(iteration * 10 + i / 4);
        return t;
    };
    auto ids = [](const Tensor& shown) { return std::vector<double>{shown.data<float>()[0], shown.data<float>()[4]}; };
    ImagePool pool(6);
    for (int64_t it = 0; it < 3; ++it) CHECK(ids(pool.query(batch(it), 7, it)) == std::vector<double>{double(it * 10), double(it * 10 + 1)});
    CHECK(pool.filled() == 6);
    ImagePool copy(6);
    copy.load_state(pool.state());
    int older = 0, total = 0;
    for (int64_t it = 3; it < 203; ++it) {
        const std::vector<double> a = ids(pool.query(batch(it), 7, it)), b = ids(copy.query(batch(it), 7, it));
        CHECK(a == b);  // the same decisions after a round trip through the state
        for (int k = 0; k < 2; ++k) {
            older += a[size_t(k)] != double(it * 10 + k);
            ++total;
            CHECK(a[size_t(k)] < double(it * 10 + k) + 0.5);  // never a future image
        }
    }
    CHECK(older > total * 0.4);  // about half of the fakes shown are older ones
    CHECK(older < total * 0.6);
    CHECK(ImagePool(0).query(batch(1), 7, 1).data<float>()[4] == 11.0f);  // size 0: the batch as it is
    CHECK(error_of([&] { pool.query(Tensor::empty({1, 1, 3, 3}, DType::F32, Device::cpu()), 7, 300); }).find("image pool: images of shape") !=
          std::string::npos);
}

TEST_CASE("CycleGAN's training step equals PyTorch's for three steps (float64: losses, then all four networks)") {
    const SafetensorsFile f = read_safetensors(std::string(SR_SOURCE_DIR) + "/tests/fixtures/cyclegan_steps.safetensors");
    const char* names[] = {"g_a", "g_b", "d_a", "d_b"};
    std::shared_ptr<Network> nets[4];
    for (int i = 0; i < 4; ++i) {
        nets[i] = make_model(f.metadata.at(i < 2 ? "generator" : "discriminator"));
        nets[i]->to(DType::F64);
        NamedTensors init;
        for (const auto& [n, t] : f.tensors)
            if (n.rfind(std::string("init.") + names[i] + ".", 0) == 0) init.emplace_back(n.substr(6 + std::strlen(names[i])), t);
        nets[i]->load_state_dict(init);
    }
    CycleGan gan(nets[0], nets[1], nets[2], nets[3]);
    for (int k = 0; k < 3; ++k) {
        CAPTURE(k);
        const CycleGanLosses l = gan.step(f.at("real_a." + std::to_string(k)), f.at("real_b." + std::to_string(k)), 1, k);
        const std::vector<double> got = {l.g_a, l.g_b, l.cycle_a, l.cycle_b, l.idt_a, l.idt_b, l.d_a, l.d_b};
        const std::vector<double> want = to_vector(f.at("loss." + std::to_string(k)));
        for (size_t j = 0; j < got.size(); ++j) {
            CAPTURE(j);
            CHECK(std::abs(got[j] - want[j]) <= 1e-9 * std::max(1.0, std::abs(want[j])));
        }
    }
    for (int i = 0; i < 4; ++i)
        for (const auto& [n, t] : nets[i]->state_dict()) {
            CAPTURE(n);
            CHECK(largest_difference(t, f.at(std::string("final.") + names[i] + "." + n)).worst <= 1e-9);
        }
}
