// train/: optimisers against PyTorch.
#include <doctest/doctest.h>

#include "core/safetensors.h"
#include "test_util.h"
#include "train/optim.h"

using namespace sr;

TEST_CASE("Adam and AdamW follow torch.optim step for step (weight decay, bias correction)") {
    const SafetensorsFile f = read_safetensors(std::string(SR_SOURCE_DIR) + "/tests/fixtures/optim.safetensors");
    for (bool decoupled : {false, true}) {
        const std::string name = decoupled ? "adamw" : "adam";
        CAPTURE(name);
        Tensor p = f.at("p0").clone().set_requires_grad(true);
        Adam opt({p}, {.lr = 0.01, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1, .decoupled_weight_decay = decoupled});
        for (int i = 0; i < 4; ++i) {
            p.set_grad(f.at("grad." + std::to_string(i)).clone());
            opt.step();
            const Difference d = largest_difference(p, f.at(name + "." + std::to_string(i)));
            CHECK(d.worst < 1e-12);
        }
        CHECK(opt.steps() == 4);
    }
}

TEST_CASE("Adam skips parameters without a gradient and rejects bad hyper-parameters") {
    Tensor a = ones({2}).set_requires_grad(true), b = ones({2}).set_requires_grad(true);
    Adam opt({a, b}, {.lr = 0.1});
    a.set_grad(ones({2}));
    opt.step();
    CHECK(to_vector(b) == std::vector<double>{1, 1});
    CHECK(to_vector(a)[0] < 1);
    CHECK(error_of([&] { Adam bad({a}, {.beta2 = 1.0}); }).find("adam: invalid hyper-parameters") == 0);
    CHECK(error_of([] { Adam bad({ones({2})}); }).find("must be contiguous leaf tensors that require grad") != std::string::npos);
}
