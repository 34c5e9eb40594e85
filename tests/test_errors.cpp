// Bad input to an op is one sr::Error that names the op, what it expected and what it got.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/backward.h"
#include "core/factory.h"
#include "ops/activation.h"
#include "ops/batch_norm.h"
#include "ops/concat.h"
#include "ops/conv2d.h"
#include "ops/dense_block.h"
#include "ops/linear.h"
#include "ops/loss.h"
#include "ops/pixel_shuffle.h"
#include "ops/reduce.h"
#include "ops/spectral_norm.h"
#include "ops/ssim.h"
#include "ops/upsample.h"
#include "test_util.h"

using namespace sr;

TEST_CASE("conv2d") {
    const Tensor x = zeros({2, 32, 48, 48});
    CHECK(error_of([&] { (void)conv2d(x, zeros({64, 64, 3, 3})); }) ==
          "conv2d: weight [64, 64, 3, 3] expects 64 input channels, input [2, 32, 48, 48] has 32");
    CHECK(error_of([&] { (void)conv2d(zeros({32, 48, 48}), zeros({64, 32, 3, 3})); }) ==
          "conv2d: input must be [N, C, H, W], got [32, 48, 48]");
    CHECK(error_of([&] { (void)conv2d(x, zeros({64, 32, 3, 3}), zeros({32})); }) == "conv2d: bias must be [64], got [32]");
    CHECK(error_of([&] { (void)conv2d(x, zeros({64, 16, 3, 3}), Tensor(), {.groups = 3}); }).find("groups=3 must divide") != std::string::npos);
    CHECK(error_of([&] { (void)conv2d(x, zeros({64, 32, 3, 3}), Tensor(), {.stride = 0}); }) == "conv2d: stride must be >= 1, got 0x0");
    CHECK(error_of([&] { (void)conv2d(zeros({1, 3, 2, 2}), zeros({4, 3, 5, 5})); }).find("smaller than the (dilated) kernel") !=
          std::string::npos);
    CHECK(error_of([&] { (void)conv2d(x, zeros({64, 32, 3, 3}, {DType::F64})); }).find("must share a dtype") != std::string::npos);
}

TEST_CASE("shapes of the other ops") {
    CHECK(error_of([] { (void)linear(zeros({4, 5}), zeros({3, 6})); }) == "linear: weight expects 6 input features, input [4, 5] has 5");
    CHECK(error_of([] { (void)pixel_shuffle(zeros({1, 6, 4, 4}), 2); }) ==
          "pixel_shuffle: input must be [N, C*4, H, W] for factor 2, got [1, 6, 4, 4]");
    CHECK(error_of([] { (void)pixel_unshuffle(zeros({1, 1, 5, 4}), 2); }).find("divisible by 2, got [1, 1, 5, 4]") != std::string::npos);
    CHECK(error_of([] { (void)concat({zeros({1, 2, 3, 3}), zeros({1, 2, 4, 3})}); }) ==
          "concat: shapes [1, 2, 3, 3] and [1, 2, 4, 3] differ outside dimension 1");
    CHECK(error_of([] { (void)split(zeros({1, 5, 2, 2}), {2, 2}); }).find("add up to 4, not to 5") != std::string::npos);
    CHECK(error_of([] { (void)l1_loss(zeros({2, 3}), zeros({3, 2})); }) == "l1_loss: input [2, 3] and target [3, 2] must have the same shape");
    CHECK(error_of([] { (void)prelu(zeros({2, 3, 4, 4}), zeros({2})); }).find("expected 1 or the 3 channels") != std::string::npos);
    CHECK(error_of([] { (void)batch_norm2d(zeros({2, 3, 4, 4}), ones({4}), zeros({4}), Tensor(), Tensor(), true); }) ==
          "batch_norm2d: weight must be [3] for input [2, 3, 4, 4], got [4]");
    CHECK(error_of([] { (void)batch_norm2d(zeros({2, 3, 4, 4}), Tensor(), Tensor(), Tensor(), Tensor(), false); }) ==
          "batch_norm2d: eval mode needs running_mean and running_var");
    CHECK(error_of([] { (void)spectral_norm(zeros({4, 3}), zeros({3}), zeros({3}), true); }).find("u must be [4] and v [3]") !=
          std::string::npos);
    CHECK(error_of([] { (void)ssim(zeros({1, 1, 8, 8}), zeros({1, 1, 8, 8})); }) == "ssim: images must be at least 11x11, got [1, 1, 8, 8]");
    CHECK(error_of([] { (void)upsample_bilinear(zeros({4, 4}), 2.0); }) == "upsample_bilinear: input must be [N, C, H, W], got [4, 4]");
    CHECK(error_of([] { (void)sum(zeros({2, 3}), {0, -2}); }) == "sum: dimension -2 listed twice");
    CHECK(error_of([] { (void)clamp(zeros({2}), 1, 0); }) == "clamp: expects lo <= hi, got lo=1 hi=0");
    CHECK(error_of([] {
              (void)residual_dense_block(zeros({1, 4, 5, 5}), {zeros({2, 3, 3, 3})}, {Tensor()}, zeros({4, 6, 1, 1}), Tensor());
          }) == "residual_dense_block: layer 0 weight must be [2, 4, k, k] with k odd, got [2, 3, 3, 3]");
}

TEST_CASE("dtypes") {
    CHECK(error_of([] { (void)relu(Tensor::empty({2}, DType::U8, Device::cpu())); }) == "relu: expects a floating tensor (F32 or F64), got U8");
    CHECK(error_of([] { (void)(zeros({2}) * zeros({2}, {DType::F64})); }) == "mul: expects all tensors to be F32, got F64 cpu [2]");
    CHECK(error_of([] { (void)zeros({2}).to(DType::U8); }).find("conversion to U8 is not defined") != std::string::npos);
}

TEST_CASE("edge cases found in review") {
    // Missing running_var next to a running_mean: an error, not a crash inside a parallel loop.
    CHECK(error_of([] { (void)batch_norm2d(zeros({2, 3, 4, 4}), Tensor(), Tensor(), zeros({3}), Tensor(), true); }) ==
          "batch_norm2d: running_mean and running_var must be both given or both undefined");
    CHECK(error_of([] { (void)Device::parse("cuda:99999999999"); }) == "device: expected cpu, cuda or cuda:N, got 'cuda:99999999999'");
    CHECK(error_of([] { (void)Device::parse("cuda:"); }).find("expected cpu, cuda or cuda:N") != std::string::npos);
    CHECK(Device::parse("cuda:3").index == 3);
    CHECK(error_of([] { zero_grad({Tensor()}); }) == "tensor: use of an undefined tensor");
    CHECK(error_of([] { (void)ones({1, 3}).expand({-2, 3}); }).find("expand: cannot expand") == 0);
    CHECK(error_of([] { (void)arange(0, INFINITY); }).find("arange: ") == 0);
    CHECK(error_of([] { (void)zeros({int64_t(1) << 40, int64_t(1) << 40}); }).find("has too many elements") != std::string::npos);
    // NaN passes through relu and clamp, as in PyTorch.
    const Tensor nan = full({1}, NAN);
    CHECK(std::isnan(to_vector(relu(nan))[0]));
    CHECK(std::isnan(to_vector(clamp(nan, 0, 1))[0]));
    // linear with no input features gives the bias.
    CHECK(to_vector(linear(zeros({2, 0}), zeros({3, 0}), ones({3}))) == std::vector<double>(6, 1.0));
}

TEST_CASE("a convolution over an empty batch has zero weight gradients") {
    Tensor x = zeros({0, 3, 5, 5}).set_requires_grad(true);
    Tensor w = ones({2, 3, 3, 3}).set_requires_grad(true), b = ones({2}).set_requires_grad(true);
    backward(sum(conv2d(x, w, b, {.padding = 1})));
    CHECK(to_vector(w.grad()) == std::vector<double>(54, 0.0));
    CHECK(to_vector(b.grad()) == std::vector<double>(2, 0.0));
}

TEST_CASE("batch norm reads strided weight and bias correctly") {
    const Tensor x = uniform({2, 3, 4, 4}, -1, 1);
    const Tensor w = full({1}, 2).expand({3});
    const Tensor b = from_vector({0, 100, 0.5, 100, 1, 100}, {6}).slice(0, 0, 6, 2);
    const Tensor strided = batch_norm2d(x, w, b, Tensor(), Tensor(), true);
    const Tensor dense = batch_norm2d(x, w.contiguous(), b.contiguous(), Tensor(), Tensor(), true);
    CHECK(to_vector(strided) == to_vector(dense));
}
