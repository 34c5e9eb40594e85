// The math of every elementwise op, forward and backward, one SR_HD functor each.
//
// ops/map.h runs these on the CPU and cuda/map.cuh on the GPU: one body, two launchers. The
// backward functors take the saved forward values first and the incoming gradient `g` last.
// Parameters (slopes, bounds) are members, so they travel to the GPU with the functor.
#pragma once

#include "core/hd.h"

namespace sr {

// ---- copies and arithmetic -------------------------------------------------------------------

struct Identity {
    template <class T> SR_HD T operator()(T x) const { return x; }
};
struct Neg {
    template <class T> SR_HD T operator()(T x) const { return -x; }
};
struct Add {
    template <class T> SR_HD T operator()(T a, T b) const { return a + b; }
};
struct Sub {
    template <class T> SR_HD T operator()(T a, T b) const { return a - b; }
};
struct Mul {
    template <class T> SR_HD T operator()(T a, T b) const { return a * b; }
};
struct Div {
    template <class T> SR_HD T operator()(T a, T b) const { return a / b; }
};
// d(a/b)/db = -a / b^2
struct DivGradB {
    template <class T> SR_HD T operator()(T a, T b, T g) const { return -g * a / (b * b); }
};
struct AddScalar {
    double s;
    template <class T> SR_HD T operator()(T x) const { return x + T(s); }
};
struct MulScalar {
    double s;
    template <class T> SR_HD T operator()(T x) const { return x * T(s); }
};

// ---- activations -----------------------------------------------------------------------------

// Written so that NaN passes through (as in PyTorch): a diverged network must not look finite.
struct Relu {
    template <class T> SR_HD T operator()(T x) const { return x < T(0) ? T(0) : x; }
};
// From the output y: y > 0 exactly where x > 0.
struct ReluGrad {
    template <class T> SR_HD T operator()(T y, T g) const { return y > T(0) ? g : T(0); }
};

// The slope is read and converted outside the branch: a load on one side of it only is one the
// compiler may not hoist, and the loop would not vectorise.
struct LeakyRelu {
    double slope;
    template <class T> SR_HD T operator()(T x) const {
        const T s = T(slope);
        return x > T(0) ? x : s * x;
    }
};
struct LeakyReluGrad {
    double slope;
    template <class T> SR_HD T operator()(T x, T g) const {
        const T s = T(slope);
        return x > T(0) ? g : s * g;
    }
};

// PReLU with weight w broadcast per channel.
struct PRelu {
    template <class T> SR_HD T operator()(T x, T w) const { return x > T(0) ? x : w * x; }
};
struct PReluGradInput {
    template <class T> SR_HD T operator()(T x, T w, T g) const { return x > T(0) ? g : w * g; }
};
// Per element; summed over batch and space to give dL/dw.
struct PReluGradWeight {
    template <class T> SR_HD T operator()(T x, T g) const { return x > T(0) ? T(0) : x * g; }
};

// Split by sign so that exp never overflows.
struct Sigmoid {
    template <class T> SR_HD T operator()(T x) const {
        if (x >= T(0)) return T(1) / (T(1) + hd::exp(-x));
        const T e = hd::exp(x);
        return e / (T(1) + e);
    }
};
struct SigmoidGrad {
    template <class T> SR_HD T operator()(T y, T g) const { return g * y * (T(1) - y); }
};

struct Tanh {
    template <class T> SR_HD T operator()(T x) const { return hd::tanh(x); }
};
struct TanhGrad {
    template <class T> SR_HD T operator()(T y, T g) const { return g * (T(1) - y * y); }
};

// GELU in its exact form, as nn.GELU(): x Phi(x) with Phi the standard normal CDF,
// Phi(x) = (1 + erf(x / sqrt 2)) / 2.
struct Gelu {
    template <class T> SR_HD T operator()(T x) const { return T(0.5) * x * (T(1) + hd::erf(x * T(0.70710678118654752440))); }
};
// d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
struct GeluGrad {
    template <class T> SR_HD T operator()(T x, T g) const {
        const T cdf = T(0.5) * (T(1) + hd::erf(x * T(0.70710678118654752440)));
        const T pdf = hd::exp(T(-0.5) * x * x) * T(0.39894228040143267794);
        return g * (cdf + x * pdf);
    }
};

struct Clamp {
    double lo, hi;
    template <class T> SR_HD T operator()(T x) const { return x < T(lo) ? T(lo) : (x > T(hi) ? T(hi) : x); }
};
// As PyTorch: the gradient passes where lo <= x <= hi, bounds included.
struct ClampGrad {
    double lo, hi;
    template <class T> SR_HD T operator()(T x, T g) const { return x >= T(lo) && x <= T(hi) ? g : T(0); }
};

// ---- losses (per element; the ops average them) ----------------------------------------------

struct AbsDiff {
    template <class T> SR_HD T operator()(T x, T y) const { return hd::abs(x - y); }
};
struct AbsDiffGrad {
    template <class T> SR_HD T operator()(T x, T y, T g) const {
        return x > y ? g : (x < y ? -g : T(0));
    }
};

struct SquaredDiff {
    template <class T> SR_HD T operator()(T x, T y) const { return (x - y) * (x - y); }
};
struct SquaredDiffGrad {
    template <class T> SR_HD T operator()(T x, T y, T g) const { return T(2) * (x - y) * g; }
};

// BasicSR's Charbonnier: sqrt((x - y)^2 + eps).
struct Charbonnier {
    double eps;
    template <class T> SR_HD T operator()(T x, T y) const { return hd::sqrt((x - y) * (x - y) + T(eps)); }
};
struct CharbonnierGrad {
    double eps;
    template <class T> SR_HD T operator()(T x, T y, T g) const {
        return g * (x - y) / hd::sqrt((x - y) * (x - y) + T(eps));
    }
};

// -[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))], in the overflow-free form
// max(x, 0) - x y + log(1 + exp(-|x|)).
struct BceWithLogits {
    template <class T> SR_HD T operator()(T x, T y) const {
        return hd::max(x, T(0)) - x * y + hd::log1p(hd::exp(-hd::abs(x)));
    }
};
struct BceWithLogitsGradInput {
    template <class T> SR_HD T operator()(T x, T y, T g) const { return g * (Sigmoid{}(x) - y); }
};
struct BceWithLogitsGradTarget {
    template <class T> SR_HD T operator()(T x, T, T g) const { return -g * x; }
};

// For the symmetric losses above, dL/dy is dL/dx with the arguments swapped.
template <class F>
struct Swapped {
    F f;
    template <class T> SR_HD T operator()(T x, T y, T g) const { return f(y, x, g); }
};

// ---- optimiser -----------------------------------------------------------------------------------

// Adam's update of one element (train/optim.h has the formulas), shared by the CPU loop of
// train/optim.cpp and the CUDA kernel of cuda/optim.cu.
struct AdamStep {
    double lr, beta1, beta2, eps, weight_decay;
    bool decoupled;
    double bias_correction1, sqrt_bias_correction2;

    template <class T>
    SR_HD void operator()(T& p, T g, T& m, T& v) const {
        if (weight_decay != 0) {
            if (decoupled) p *= T(1 - lr * weight_decay);
            else g += T(weight_decay) * p;
        }
        m = T(beta1) * m + T(1 - beta1) * g;
        v = T(beta2) * v + T(1 - beta2) * g * g;
        const T denom = hd::sqrt(v) / T(sqrt_bias_correction2) + T(eps);
        p -= T(lr / bias_correction1) * m / denom;
    }
};

}  // namespace sr
