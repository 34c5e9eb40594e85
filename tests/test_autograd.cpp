// autograd/: the tape, accumulation into leaves, no_grad, detach, freeing of the graph, and the
// gradient checker itself (it must be able to fail).
#include <doctest/doctest.h>

#include "autograd/backward.h"
#include "autograd/gradcheck.h"
#include "core/factory.h"
#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "test_util.h"

using namespace sr;

TEST_CASE("gradients accumulate into leaves across uses and calls") {
    Tensor x = from_vector({1, 2, 3}, {3}, DType::F64).set_requires_grad(true);
    // y = sum(x * x + 3 x): dy/dx = 2x + 3, and x is used three times.
    Tensor y = sum(x * x + x * 3.0);
    backward(y);
    CHECK(to_vector(x.grad()) == std::vector<double>{5, 7, 9});
    backward(sum(x * 2.0));  // a second graph adds to the same grad
    CHECK(to_vector(x.grad()) == std::vector<double>{7, 9, 11});
    zero_grad({x});
    CHECK(!x.grad().defined());
}

TEST_CASE("no_grad and detach record nothing") {
    Tensor x = ones({2, 2}).set_requires_grad(true);
    {
        NoGradGuard guard;
        Tensor y = x * 2.0;
        CHECK(!y.requires_grad());
        CHECK(y.grad_fn() == nullptr);
    }
    CHECK(grad_enabled());
    Tensor d = x.detach();
    CHECK(!d.requires_grad());
    CHECK(d.storage() == x.storage());
    Tensor y = sum(x * d);  // d is a constant: dy/dx = d
    backward(y);
    CHECK(to_vector(x.grad()) == std::vector<double>{1, 1, 1, 1});
}

TEST_CASE("saved tensors are freed after backward, and the graph is freed with its outputs") {
    const int64_t before = Node::live_count();
    {
        Tensor x = uniform({4, 5}, -1, 1, {DType::F64}).set_requires_grad(true);
        Tensor y = sum(relu(x) * x);
        CHECK(Node::live_count() > before);
        backward(y);
        std::string message;
        try {
            backward(y);
        } catch (const Error& e) {
            message = e.what();
        }
        CHECK(message.find("already freed") != std::string::npos);
    }
    CHECK(Node::live_count() == before);  // no reference cycles
}

TEST_CASE("backward errors") {
    Tensor x = ones({2});
    CHECK_THROWS_WITH_AS(backward(sum(x)), doctest::Contains("does not require grad"), Error);
    Tensor w = ones({2}).set_requires_grad(true);
    CHECK_THROWS_WITH_AS(backward(w * 2.0), doctest::Contains("non-scalar"), Error);
    CHECK_THROWS_WITH_AS((w * 2.0).set_requires_grad(false), doctest::Contains("leaf"), Error);
}

namespace {
// An op with a deliberately wrong backward (it forgets the factor 2 of x^2).
struct WrongSquareBackward : Node {
    Tensor x;
    const char* name() const override { return "wrong_square"; }
    std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {g[0] * x}; }
    void release() override { x = Tensor(); }
};
Tensor wrong_square(const Tensor& x) {
    Tensor y = x.detach() * x.detach();
    if (needs_grad({x})) {
        auto node = std::make_shared<WrongSquareBackward>();
        node->x = x.detach();
        record(node, {x}, {y});
    }
    return y;
}
}  // namespace

TEST_CASE("gradcheck passes a right gradient and catches a wrong one") {
    const Tensor x = uniform({3, 4}, 0.5, 1.5, {DType::F64});
    auto right = gradcheck([](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] * in[0]}; }, {x});
    CHECK(right.passed);
    CHECK(right.checked == 12);
    CHECK(right.max_abs_error < 1e-7);
    auto wrong = gradcheck([](const std::vector<Tensor>& in) { return std::vector<Tensor>{wrong_square(in[0])}; }, {x});
    CHECK(!wrong.passed);
    CHECK(wrong.worst.find("input 0") != std::string::npos);
}

TEST_CASE("a very long graph is freed without recursion") {
    const int64_t before = Node::live_count();
    {
        Tensor x = ones({1}).set_requires_grad(true);
        Tensor y = x;
        for (int i = 0; i < 300000; ++i) y = y * 1.0;
        CHECK(Node::live_count() >= before + 300000);
    }  // dropping y releases 300000 nodes
    CHECK(Node::live_count() == before);
}

TEST_CASE("GradReadyHook: each leaf reported once, when its gradient is final (DDP's bucket trigger)") {
    Tensor a = uniform({3}, -1, 1).set_requires_grad(true), b = uniform({3}, -1, 1).set_requires_grad(true);
    Tensor unused = uniform({3}, -1, 1).set_requires_grad(true);
    const Tensor h = a * b;               // a reaches the loss along two paths: through h and directly
    const Tensor loss = sum(h * a + a);   // d/da = 2 a b + 1, d/db = a^2
    std::vector<std::pair<const void*, std::vector<double>>> reported;
    {
        GradReadyHook hook([&](const Tensor& leaf) { reported.push_back({leaf.impl().get(), to_vector(leaf.grad())}); });
        backward(loss);
    }
    REQUIRE(reported.size() == 2);  // a and b once each; `unused` is not in the graph
    for (const auto& [leaf, grad] : reported) {
        const Tensor& t = leaf == a.impl().get() ? a : b;
        CHECK(leaf != unused.impl().get());
        const std::vector<double> final_grad = to_vector(t.grad());  // what it held when reported is final
        for (size_t i = 0; i < grad.size(); ++i) CHECK(grad[i] == final_grad[i]);
    }
    const std::vector<double> av = to_vector(a), bv = to_vector(b), ga = to_vector(a.grad());
    for (size_t i = 0; i < 3; ++i) CHECK(ga[i] == doctest::Approx(2 * av[i] * bv[i] + 1));
    CHECK(error_of([] {
              GradReadyHook one([](const Tensor&) {});
              GradReadyHook two([](const Tensor&) {});
          }).find("another hook") != std::string::npos);
}
