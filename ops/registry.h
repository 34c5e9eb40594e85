// The op registry: every differentiable op registers a spec with sample cases. The gradient-check
// test, tools/sr_gradcheck, the CPU/CUDA comparison and the benchmarks all iterate it, so an op
// with a spec is checked everywhere, and a test fails for an ops/ source file that registers none.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sr {

// One way to call an op: input shapes (parameters count as inputs) and how to call it.
struct OpCase {
    std::string label;                      // the attributes varied, e.g. "k3 s2 p1 groups=3"
    std::vector<Shape> shapes;              // one per input
    std::function<Tensors(const Tensors&)> run;
    // Turns random inputs, uniform in [-1, 1), into valid ones: away from kinks such as ReLU's 0,
    // positive where the op needs it. Called once, before the check, in place.
    std::function<void(Tensors&)> prepare = nullptr;
    std::vector<size_t> no_grad_inputs = {};  // inputs not checked (state buffers, for example)
};

struct OpSpec {
    std::string name;
    std::string file;     // the ops/ source file that defines it
    std::vector<OpCase> cases;
};

// All registered specs, in a fixed order.
const std::vector<OpSpec>& op_registry();

// Random inputs of `c`'s shapes (uniform in [-1, 1), seeded by `seed`), after c.prepare.
Tensors make_case_inputs(const OpCase& c, DType dtype, uint64_t seed);

// Helpers for prepare functions (CPU, in place): move every element at least `margin` away from
// `point`, keeping its side; map [-1, 1) onto [lo, hi).
void keep_away_from(Tensor& x, double point, double margin);
void rescale(Tensor& x, double lo, double hi);

}  // namespace sr
