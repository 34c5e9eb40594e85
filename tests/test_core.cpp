// core/: tensors, views, factories, the counter-based RNG and error messages.
#include <doctest/doctest.h>

#include "autograd/node.h"
#include "core/factory.h"
#include "core/gpu.h"
#include "core/rng.h"
#include "ops/layout.h"
#include "ops/elementwise.h"
#include "test_util.h"

using namespace sr;


TEST_CASE("Philox4x32-10 matches the Random123 known-answer vectors") {
    uint32_t out[4];
    const uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0};
    philox4x32_10(c0, k0, out);
    CHECK(out[0] == 0x6627e8d5u);
    CHECK(out[1] == 0xe169c58du);
    CHECK(out[2] == 0xbc57ac4cu);
    CHECK(out[3] == 0x9b00dbd8u);
    const uint32_t c1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, k1[2] = {0xffffffffu, 0xffffffffu};
    philox4x32_10(c1, k1, out);
    CHECK(out[0] == 0x408f276du);
    CHECK(out[1] == 0x41c83b0eu);
    CHECK(out[2] == 0xa20bc7c6u);
    CHECK(out[3] == 0x6d5451fdu);
    const uint32_t c2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, k2[2] = {0xa4093822u, 0x299f31d0u};
    philox4x32_10(c2, k2, out);
    CHECK(out[0] == 0xd16cfe09u);
    CHECK(out[1] == 0x94fdccebu);
    CHECK(out[2] == 0x5001e420u);
    CHECK(out[3] == 0x24126ea1u);
}

TEST_CASE("factories: shapes, values and seeded random draws") {
    Tensor z = zeros({2, 3});
    CHECK(z.shape() == Shape{2, 3});
    CHECK(z.dtype() == DType::F32);
    for (double v : to_vector(z)) CHECK(v == 0.0);
    for (double v : to_vector(full({4}, 2.5, {DType::F64}))) CHECK(v == 2.5);
    CHECK(to_vector(arange(0, 5)) == std::vector<double>{0, 1, 2, 3, 4});
    CHECK(to_vector(arange(1, 2, 0.25, {DType::F64})) == std::vector<double>{1, 1.25, 1.5, 1.75});

    Generator g1(7), g2(7);
    const auto a = to_vector(uniform({1000}, -2, 3, {}, &g1));
    const auto b = to_vector(uniform({1000}, -2, 3, {}, &g2));
    CHECK(a == b);  // same seed, same numbers
    const auto c = to_vector(uniform({1000}, -2, 3, {}, &g1));
    CHECK(a != c);  // the next draw differs
    double lo = 1e9, hi = -1e9, mean = 0;
    for (double v : a) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        mean += v / a.size();
    }
    CHECK(lo >= -2);
    CHECK(hi < 3);
    CHECK(mean == doctest::Approx(0.5).epsilon(0.1));

    Generator g3(11);
    const auto n = to_vector(normal({20000}, 1.0, 2.0, {DType::F64}, &g3));
    double m = 0, v = 0;
    for (double x : n) m += x / n.size();
    for (double x : n) v += (x - m) * (x - m) / n.size();
    CHECK(m == doctest::Approx(1.0).epsilon(0.05));
    CHECK(std::sqrt(v) == doctest::Approx(2.0).epsilon(0.03));

    // The F32 draw is the F64 draw rounded: both use element i's counter.
    Generator g4(5), g5(5);
    const auto f32 = to_vector(uniform({64}, 0, 1, {DType::F32}, &g4));
    const auto f64 = to_vector(uniform({64}, 0, 1, {DType::F64}, &g5));
    for (size_t i = 0; i < f32.size(); ++i) CHECK(f32[i] == doctest::Approx(f64[i]).epsilon(1e-6));
}

TEST_CASE("views share storage and compute the right strides") {
    Tensor x = arange(0, 24, 1, {DType::F64}).reshape({2, 3, 4});
    CHECK(x.is_contiguous());
    CHECK(x.strides() == Strides{12, 4, 1});

    Tensor p = x.permute({2, 0, 1});
    CHECK(p.shape() == Shape{4, 2, 3});
    CHECK(p.strides() == Strides{1, 12, 4});
    CHECK(!p.is_contiguous());
    CHECK(p.storage() == x.storage());
    // p[3, 1, 2] = x[1, 2, 3] = 23
    CHECK(to_vector(p.contiguous())[3 * 6 + 1 * 3 + 2] == 23);

    Tensor s = x.slice(2, 1, 4, 2);  // columns 1 and 3
    CHECK(s.shape() == Shape{2, 3, 2});
    CHECK(to_vector(s) == std::vector<double>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23});
    CHECK(to_vector(x.slice(0, -1, 2)) == to_vector(arange(12, 24, 1, {DType::F64})));
    CHECK(x.slice(1, 5, 9).shape() == Shape{2, 0, 4});  // past the end: empty, not an error

    Tensor e = arange(0, 3, 1, {DType::F64}).reshape({3, 1}).expand({2, 3, 4});
    CHECK(e.strides() == Strides{0, 1, 0});
    CHECK(to_vector(e)[4 * 2 + 12] == 2);

    Tensor r = p.reshape({-1});  // not contiguous: reshape copies
    CHECK(r.storage() != x.storage());
    CHECK(r.numel() == 24);

    {
        NoGradGuard no_grad;
        Tensor y = zeros({2, 3, 4}, {DType::F64});
        copy_(y.slice(1, 0, 1), full({2, 1, 4}, 7, {DType::F64}));
        CHECK(to_vector(y)[0] == 7);
        CHECK(to_vector(y)[4] == 0);
    }
}

TEST_CASE("dtype conversion and item") {
    Tensor x = arange(0, 4, 0.5, {DType::F64});
    Tensor f = x.to(DType::F32);
    CHECK(f.dtype() == DType::F32);
    CHECK(to_vector(f) == to_vector(x));
    CHECK(full({1, 1}, 3.25).item() == 3.25);
}

TEST_CASE("errors name the op and the shapes") {
    CHECK(error_of([] { (void)zeros({2, 3}).reshape({4, 2}); }) ==
          "reshape: cannot reshape [2, 3] (6 elements) into [4, 2]");
    CHECK(error_of([] { (void)(zeros({2, 3}) + zeros({4})); }) == "add: shapes [2, 3] and [4] do not broadcast");
    CHECK(error_of([] { (void)zeros({2, 3}).permute({0, 0}); }) == "permute: dimension 0 appears twice in [0, 0]");
    CHECK(error_of([] { (void)zeros({2, 3}).slice(2, 0, 1); }) == "slice: dimension 2 is out of range for a 2-d tensor");
    CHECK(error_of([] { (void)(zeros({2}) + zeros({2}, {DType::F64})); }).find("expects all tensors to be F32") !=
          std::string::npos);
    CHECK(error_of([] { (void)zeros({2}).item(); }) == "item: expects a tensor with one element, got shape [2]");
    CHECK(error_of([] { (void)zeros({2}, {.device = Device::parse("gpu")}); }) ==
          "device: expected cpu, cuda or cuda:N, got 'gpu'");
}

TEST_CASE("a CUDA tensor without a usable GPU is one clear error") {
    std::string why;
    if (gpu::available(&why)) return;  // covered by test_cuda on GPU machines
    const std::string e = error_of([] { (void)zeros({2}, {.device = Device::cuda()}); });
    CHECK(e.rfind("cuda: ", 0) == 0);
    CHECK(e.find(why) != std::string::npos);
}
