#include "train/degrade.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <sstream>

#include <stb_image.h>        // declarations only: the implementations are compiled in core/image_io.cpp
#include <stb_image_write.h>

#include "core/factory.h"
#include "train/imresize.h"  // quantize_u8

namespace sr {

namespace {

constexpr double kPi = std::numbers::pi;

void check_images(const Tensor& x, const char* op) {
    SR_CHECK(x.defined() && x.dim() == 4, op, ": expects images [N, C, H, W], got ", x.defined() ? x.shape() : Shape{});
    SR_CHECK(x.is_cpu() && x.dtype() == DType::F32, op, ": expects an F32 CPU tensor, got ", x);
    SR_CHECK(x.numel() > 0, op, ": got an empty batch ", x.shape());
}

// PyTorch's 'reflect' padding index (... 2 1 | 0 1 ... n-1 | n-2 ...), which keeps reflecting when
// the padding is wider than the image (PyTorch raises an error there).
int64_t reflect(int64_t i, int64_t n) {
    if (n == 1) return 0;
    const int64_t period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

// A per-image parameter vector must have one entry per image.
template <class V>
void check_per_image(const V& v, int64_t n, const char* op, const char* what) {
    SR_CHECK(static_cast<int64_t>(v.size()) == n, op, ": expects one ", what, " per image (", n, "), got ", v.size());
}

// log(k!) for the Poisson sampler: a table, then Stirling's series (error < 1e-15 from k = 1024).
double log_factorial(double k) {
    static const std::vector<double> table = [] {
        std::vector<double> t(1024, 0.0);
        for (size_t i = 2; i < t.size(); ++i) t[i] = t[i - 1] + std::log(double(i));
        return t;
    }();
    if (k < double(table.size())) return table[static_cast<size_t>(k)];
    return k * std::log(k) - k + 0.5 * std::log(2 * kPi * k) + 1 / (12 * k) - 1 / (360 * k * k * k);
}

}  // namespace

// ---- options --------------------------------------------------------------------------------

void check_options(const DegradeOptions& o) {
    SR_CHECK(o.scale >= 1, "degrade: scale must be >= 1, got ", o.scale);
    auto prob = [](double p, const char* name) {
        SR_CHECK(p >= 0 && p <= 1, "degrade: ", name, " must be a probability in [0, 1], got ", p);
    };
    auto range = [](const std::array<double, 2>& r, const char* name, double min) {
        SR_CHECK(std::isfinite(r[0]) && std::isfinite(r[1]) && r[0] >= min && r[0] <= r[1], "degrade: ", name,
                 " must be [lo, hi] with ", min, " <= lo <= hi, got [", r[0], ", ", r[1], "]");
    };
    auto weights = [](const auto& w, size_t n, const char* name) {
        SR_CHECK(w.size() == n, "degrade: ", name, " needs ", n, " weights, got ", w.size());
        double total = 0;
        for (double v : w) {
            SR_CHECK(v >= 0 && std::isfinite(v), "degrade: ", name, " weights must be >= 0, got ", v);
            total += v;
        }
        SR_CHECK(total > 0, "degrade: ", name, " weights must not all be 0");
    };
    weights(o.kernel_prob, 6, "kernel_prob");
    weights(o.kernel_prob2, 6, "kernel_prob2");
    weights(std::vector<double>(o.resize_prob.begin(), o.resize_prob.end()), 3, "resize_prob");
    weights(std::vector<double>(o.resize_prob2.begin(), o.resize_prob2.end()), 3, "resize_prob2");
    for (auto [p, name] : {std::pair{o.sinc_prob, "sinc_prob"}, {o.sinc_prob2, "sinc_prob2"},
                           {o.final_sinc_prob, "final_sinc_prob"}, {o.gaussian_noise_prob, "gaussian_noise_prob"},
                           {o.gray_noise_prob, "gray_noise_prob"}, {o.second_blur_prob, "second_blur_prob"},
                           {o.gaussian_noise_prob2, "gaussian_noise_prob2"}, {o.gray_noise_prob2, "gray_noise_prob2"}})
        prob(p, name);
    range(o.blur_sigma, "blur_sigma", 1e-6);
    range(o.blur_sigma2, "blur_sigma2", 1e-6);
    range(o.betag_range, "betag_range", 1e-6);
    range(o.betag_range2, "betag_range2", 1e-6);
    range(o.betap_range, "betap_range", 1e-6);
    range(o.betap_range2, "betap_range2", 1e-6);
    range(o.noise_range, "noise_range", 0);
    range(o.noise_range2, "noise_range2", 0);
    range(o.poisson_scale_range, "poisson_scale_range", 0);
    range(o.poisson_scale_range2, "poisson_scale_range2", 0);
    range(o.jpeg_range, "jpeg_range", 1);
    range(o.jpeg_range2, "jpeg_range2", 1);
    SR_CHECK(o.jpeg_range[1] <= 100 && o.jpeg_range2[1] <= 100, "degrade: JPEG qualities must be at most 100");
    range(o.resize_range, "resize_range", 1e-3);
    range(o.resize_range2, "resize_range2", 1e-3);
    SR_CHECK(o.resize_range[0] <= 1 && o.resize_range[1] >= 1 && o.resize_range2[0] <= 1 && o.resize_range2[1] >= 1,
             "degrade: resize ranges must contain 1 (down is [lo, 1], up is [1, hi])");
}

// ---- random numbers -------------------------------------------------------------------------

uint64_t degrade_stream(int64_t iteration, int part, int64_t sample) {
    SR_CHECK(iteration >= 0 && iteration < (int64_t(1) << 40), "degrade: iteration must be in [0, 2^40), got ", iteration);
    SR_CHECK(part >= 0 && part < 16, "degrade: stream part must be in [0, 16), got ", part);
    SR_CHECK(sample >= 0 && sample < (int64_t(1) << 20), "degrade: sample index must be in [0, 2^20), got ", sample);
    return uint64_t(iteration) << 24 | uint64_t(part) << 20 | uint64_t(sample);
}

double Rng::uniform() { return uniform_at<double>(stream_, next_++, 0.0, 1.0); }

double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

double Rng::normal() { return normal_at<double>(stream_, next_++, 0.0, 1.0); }

int64_t Rng::integer(int64_t n) {
    SR_CHECK(n >= 1, "Rng::integer: n must be >= 1, got ", n);
    return std::min(static_cast<int64_t>(uniform() * double(n)), n - 1);
}

size_t Rng::choice(const std::vector<double>& weights) {
    double total = 0;
    size_t last = weights.size();
    for (size_t i = 0; i < weights.size(); ++i) {
        SR_CHECK(weights[i] >= 0, "Rng::choice: weights must be >= 0, got ", weights[i]);
        total += weights[i];
        if (weights[i] > 0) last = i;
    }
    SR_CHECK(total > 0, "Rng::choice: needs a positive weight");
    // As Python's random.choices: the first i whose cumulative weight exceeds u * total.
    const double u = uniform() * total;
    double cumulative = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
        cumulative += weights[i];
        if (u < cumulative) return i;
    }
    return last;  // u * total rounded up to the total
}

int64_t Rng::poisson(double lambda) { return poisson_at(stream_, next_++, lambda); }

uint64_t Rng::take(uint64_t n) {
    const uint64_t first = next_;
    next_ += n;
    return first;
}

namespace {

// What a Poisson(lambda) draw needs besides the random words, computed once per lambda.
struct PoissonSetup {
    double lambda = 0;
    double exp_neg = 0;                                            // inversion: P(N = 0)
    double loglam = 0, a = 0, b = 0, vr = 0, log_inv_alpha = 0;    // PTRS
};

PoissonSetup poisson_setup(double lambda) {
    PoissonSetup p;
    p.lambda = lambda > 0 ? lambda : 0;
    if (p.lambda < 10) {
        p.exp_neg = std::exp(-p.lambda);
        return p;
    }
    // PTRS: transformed rejection with squeeze (W. Hormann, "The transformed rejection method for
    // generating Poisson random variables", Insurance: Mathematics and Economics 12, 1993).
    p.loglam = std::log(p.lambda);
    p.b = 0.931 + 2.53 * std::sqrt(p.lambda);
    p.a = -0.059 + 0.02483 * p.b;
    p.vr = 0.9277 - 3.6224 / (p.b - 2);
    p.log_inv_alpha = std::log(1.1239 + 1.1328 / (p.b - 3.4));
    return p;
}

int64_t poisson_sample(const PoissonSetup& p, RandomStream s, uint64_t k) {
    if (p.lambda == 0) return 0;
    uint32_t w[4];
    if (p.lambda < 10) {
        // Inversion: the smallest n with u < P(N <= n), summing the probabilities as we go.
        random_words(s, k, w);
        const double u = unit_uniform<double>(w[0], w[1]);
        double prob = p.exp_neg, cdf = prob;
        int64_t n = 0;
        while (u >= cdf && n < 200) {  // P(N > 200) is 0 in double for lambda < 10
            ++n;
            prob *= p.lambda / double(n);
            cdf += prob;
        }
        return n;
    }
    for (uint64_t attempt = 0;; ++attempt) {
        random_words(s, k + (attempt << 44), w);
        const double u = unit_uniform<double>(w[0], w[1]) - 0.5, v = unit_uniform<double>(w[2], w[3]);
        const double us = 0.5 - std::abs(u);
        const double n = std::floor((2 * p.a / us + p.b) * u + p.lambda + 0.43);
        if (us >= 0.07 && v <= p.vr) return static_cast<int64_t>(n);  // the squeeze: accept at once
        if (n < 0 || (us < 0.013 && v > us)) continue;
        if (std::log(v) + p.log_inv_alpha - std::log(p.a / (us * us) + p.b) <=
            -p.lambda + n * p.loglam - log_factorial(n))
            return static_cast<int64_t>(n);
    }
}

}  // namespace

int64_t poisson_at(RandomStream s, uint64_t k, double lambda) { return poisson_sample(poisson_setup(lambda), s, k); }

// ---- blur kernels ---------------------------------------------------------------------------

const char* kernel_family_name(KernelFamily f) {
    switch (f) {
        case KernelFamily::iso: return "iso";
        case KernelFamily::aniso: return "aniso";
        case KernelFamily::generalized_iso: return "generalized_iso";
        case KernelFamily::generalized_aniso: return "generalized_aniso";
        case KernelFamily::plateau_iso: return "plateau_iso";
        case KernelFamily::plateau_aniso: return "plateau_aniso";
        case KernelFamily::sinc: return "sinc";
        case KernelFamily::pulse: return "pulse";
    }
    return "?";
}

namespace {

// A k x k F64 kernel with element [i][j] = f(q) at x = ax[j], y = ax[i], normalised to sum 1, where
// q = [x y] S^-1 [x y]^T and S = U diag(sx^2, sy^2) U^T, U = [[cos, -sin], [sin, cos]].
template <class F>
Tensor bivariate(const char* op, int64_t k, double sx, double sy, double theta, F f) {
    SR_CHECK(k >= 1 && k % 2 == 1, op, ": kernel size must be odd, got ", k);
    SR_CHECK(sx > 0 && sy > 0, op, ": sigmas must be positive, got ", sx, " and ", sy);
    const double c = std::cos(theta), s = std::sin(theta);
    const double s00 = c * c * sx * sx + s * s * sy * sy, s01 = c * s * (sx * sx - sy * sy),
                 s11 = s * s * sx * sx + c * c * sy * sy;
    const double det = s00 * s11 - s01 * s01;
    const double i00 = s11 / det, i01 = -s01 / det, i11 = s00 / det;  // S^-1
    const int64_t r = k / 2;
    std::vector<double> v(static_cast<size_t>(k * k));
    double sum = 0;
    for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j) {
            const double x = double(j - r), y = double(i - r);
            const double q = x * (x * i00 + y * i01) + y * (x * i01 + y * i11);
            v[i * k + j] = f(q);
            sum += v[i * k + j];
        }
    for (double& e : v) e /= sum;
    return from_vector(v, {k, k}, DType::F64);
}

}  // namespace

Tensor bivariate_gaussian(int64_t k, double sigma_x, double sigma_y, double theta) {
    return bivariate("bivariate_gaussian", k, sigma_x, sigma_y, theta, [](double q) { return std::exp(-0.5 * q); });
}

Tensor bivariate_generalized_gaussian(int64_t k, double sigma_x, double sigma_y, double theta, double beta) {
    SR_CHECK(beta > 0, "bivariate_generalized_gaussian: beta must be positive, got ", beta);
    return bivariate("bivariate_generalized_gaussian", k, sigma_x, sigma_y, theta,
                     [beta](double q) { return std::exp(-0.5 * std::pow(q, beta)); });
}

Tensor bivariate_plateau(int64_t k, double sigma_x, double sigma_y, double theta, double beta) {
    SR_CHECK(beta > 0, "bivariate_plateau: beta must be positive, got ", beta);
    return bivariate("bivariate_plateau", k, sigma_x, sigma_y, theta,
                     [beta](double q) { return 1 / (std::pow(q, beta) + 1); });
}

Tensor circular_lowpass_kernel(double omega_c, int64_t k, int64_t pad_to) {
    SR_CHECK(k >= 1 && k % 2 == 1, "circular_lowpass_kernel: kernel size must be odd, got ", k);
    SR_CHECK(omega_c > 0 && omega_c <= kPi, "circular_lowpass_kernel: cutoff must be in (0, pi], got ", omega_c);
    const double centre = double(k - 1) / 2;
    std::vector<double> v(static_cast<size_t>(k * k));
    double sum = 0;
    for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j) {
            const double r = std::hypot(double(i) - centre, double(j) - centre);
            v[i * k + j] = r == 0 ? omega_c * omega_c / (4 * kPi) : omega_c * std::cyl_bessel_j(1.0, omega_c * r) / (2 * kPi * r);
            sum += v[i * k + j];
        }
    for (double& e : v) e /= sum;
    const Tensor kernel = from_vector(v, {k, k}, DType::F64);
    return pad_to > k ? pad_kernel(kernel, pad_to) : kernel;
}

Tensor pad_kernel(const Tensor& kernel, int64_t size) {
    SR_CHECK(kernel.dim() == 2 && kernel.size(0) == kernel.size(1), "pad_kernel: expects a square kernel [k, k], got ",
             kernel.shape());
    const int64_t k = kernel.size(0);
    SR_CHECK(size >= k && (size - k) % 2 == 0, "pad_kernel: cannot pad a ", k, "x", k, " kernel to ", size, "x", size);
    const std::vector<double> v = to_vector(kernel);
    std::vector<double> out(static_cast<size_t>(size * size), 0.0);
    const int64_t p = (size - k) / 2;
    for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j) out[(i + p) * size + j + p] = v[i * k + j];
    return from_vector(out, {size, size}, DType::F64);
}

Tensor pulse_kernel(int64_t size) {
    SR_CHECK(size >= 1 && size % 2 == 1, "pulse_kernel: size must be odd, got ", size);
    std::vector<double> v(static_cast<size_t>(size * size), 0.0);
    v[(size / 2) * size + size / 2] = 1;
    return from_vector(v, {size, size}, DType::F64);
}

Tensor make_kernel(const KernelParams& p, int64_t pad_to) {
    Tensor k;
    switch (p.family) {
        case KernelFamily::iso: k = bivariate_gaussian(p.size, p.sigma_x, p.sigma_x, 0); break;
        case KernelFamily::aniso: k = bivariate_gaussian(p.size, p.sigma_x, p.sigma_y, p.theta); break;
        case KernelFamily::generalized_iso: k = bivariate_generalized_gaussian(p.size, p.sigma_x, p.sigma_x, 0, p.beta); break;
        case KernelFamily::generalized_aniso:
            k = bivariate_generalized_gaussian(p.size, p.sigma_x, p.sigma_y, p.theta, p.beta);
            break;
        case KernelFamily::plateau_iso: k = bivariate_plateau(p.size, p.sigma_x, p.sigma_x, 0, p.beta); break;
        case KernelFamily::plateau_aniso: k = bivariate_plateau(p.size, p.sigma_x, p.sigma_y, p.theta, p.beta); break;
        case KernelFamily::sinc: k = circular_lowpass_kernel(p.omega_c, p.size); break;
        case KernelFamily::pulse: k = pulse_kernel(p.size); break;
    }
    return pad_to > k.size(0) ? pad_kernel(k, pad_to) : k;
}

std::string describe(const KernelParams& p) {
    std::ostringstream os;
    os.precision(3);
    os << std::fixed << kernel_family_name(p.family);
    if (p.family == KernelFamily::pulse) return os.str() + " (no filter)";
    os << ' ' << p.size << 'x' << p.size;
    switch (p.family) {
        case KernelFamily::sinc: os << " omega_c " << p.omega_c << " (" << p.omega_c / kPi << " pi)"; break;
        case KernelFamily::iso: os << " sigma " << p.sigma_x; break;
        case KernelFamily::generalized_iso:
        case KernelFamily::plateau_iso: os << " sigma " << p.sigma_x << " beta " << p.beta; break;
        default:
            os << " sigma " << p.sigma_x << ',' << p.sigma_y << " theta " << p.theta;
            if (p.family != KernelFamily::aniso) os << " beta " << p.beta;
    }
    return os.str();
}

Tensor random_mixed_kernel(const std::vector<double>& kernel_prob, int64_t k, std::array<double, 2> sigma_range,
                           std::array<double, 2> betag_range, std::array<double, 2> betap_range, Rng& rng,
                           KernelParams* drawn) {
    SR_CHECK(kernel_prob.size() == 6, "random_mixed_kernel: expects 6 family weights (iso, aniso, generalized_iso, "
             "generalized_aniso, plateau_iso, plateau_aniso), got ", kernel_prob.size());
    KernelParams p;
    p.family = static_cast<KernelFamily>(rng.choice(kernel_prob));
    p.size = k;
    p.sigma_x = rng.uniform(sigma_range[0], sigma_range[1]);
    const bool aniso = p.family == KernelFamily::aniso || p.family == KernelFamily::generalized_aniso ||
                       p.family == KernelFamily::plateau_aniso;
    if (aniso) {
        p.sigma_y = rng.uniform(sigma_range[0], sigma_range[1]);
        p.theta = rng.uniform(-kPi, kPi);
    } else {
        p.sigma_y = p.sigma_x;
    }
    const bool generalized = p.family == KernelFamily::generalized_iso || p.family == KernelFamily::generalized_aniso;
    const bool plateau = p.family == KernelFamily::plateau_iso || p.family == KernelFamily::plateau_aniso;
    if (generalized || plateau) {
        const std::array<double, 2>& r = generalized ? betag_range : betap_range;
        p.beta = rng.uniform() < 0.5 ? rng.uniform(r[0], 1) : rng.uniform(1, r[1]);
    }
    if (drawn) *drawn = p;
    return make_kernel(p);
}

SampleKernels random_sample_kernels(const DegradeOptions& o, Rng& rng) {
    constexpr int64_t kPadded = 21;
    auto blur = [&](const std::vector<double>& prob, double sinc_prob, std::array<double, 2> sigma,
                    std::array<double, 2> betag, std::array<double, 2> betap, KernelParams& p) {
        const int64_t size = 7 + 2 * rng.integer(8);  // 7, 9, ..., 21
        if (rng.uniform() < sinc_prob) {
            p = {.family = KernelFamily::sinc, .size = size};
            p.omega_c = size < 13 ? rng.uniform(kPi / 3, kPi) : rng.uniform(kPi / 5, kPi);
            return pad_kernel(make_kernel(p), kPadded);
        }
        return pad_kernel(random_mixed_kernel(prob, size, sigma, betag, betap, rng, &p), kPadded);
    };
    SampleKernels s;
    s.kernel1 = blur(o.kernel_prob, o.sinc_prob, o.blur_sigma, o.betag_range, o.betap_range, s.params1);
    s.kernel2 = blur(o.kernel_prob2, o.sinc_prob2, o.blur_sigma2, o.betag_range2, o.betap_range2, s.params2);
    if (rng.uniform() < o.final_sinc_prob) {
        s.params_sinc = {.family = KernelFamily::sinc, .size = 7 + 2 * rng.integer(8)};
        s.params_sinc.omega_c = rng.uniform(kPi / 3, kPi);
    } else {
        s.params_sinc = {.family = KernelFamily::pulse, .size = kPadded};
    }
    s.sinc = make_kernel(s.params_sinc, kPadded);
    return s;
}

// ---- filtering ----------------------------------------------------------------------------------

namespace {

// out[x] = sum_t w[t] * base[offset[t] + x] for x in [0, n), summed in float in tap order. Sixteen
// outputs at a time stay in registers while the taps stream past (the compiler vectorises the inner
// loop); the rest one by one, with the same arithmetic, so every output gets the same sum either way.
void weighted_rows(const float* base, const int64_t* offset, const float* w, int64_t taps, float* out, int64_t n) {
    constexpr int64_t kBlock = 16;
    int64_t x = 0;
    for (; x + kBlock <= n; x += kBlock) {
        float acc[kBlock] = {};
        for (int64_t t = 0; t < taps; ++t) {
            const float* s = base + offset[t] + x;
            const float wt = w[t];
            for (int64_t i = 0; i < kBlock; ++i) acc[i] += wt * s[i];
        }
        std::copy(acc, acc + kBlock, out + x);
    }
    for (; x < n; ++x) {
        float acc = 0;
        for (int64_t t = 0; t < taps; ++t) acc += w[t] * base[offset[t] + x];
        out[x] = acc;
    }
}

// Reflect-pads one plane [H, W] by r on every side into `padded` [H + 2r, W + 2r].
void pad_reflect(const float* src, int64_t H, int64_t W, int64_t r, std::vector<float>& padded) {
    const int64_t PW = W + 2 * r;
    padded.resize(static_cast<size_t>((H + 2 * r) * PW));
    for (int64_t py = 0; py < H + 2 * r; ++py) {
        const float* row = src + reflect(py - r, H) * W;
        float* out = &padded[py * PW];
        for (int64_t px = 0; px < PW; ++px) out[px] = row[reflect(px - r, W)];
    }
}

// One plane [H, W] correlated with a k x k float kernel after reflect padding by k / 2. Zero taps are
// skipped (BasicSR's kernels are zero-padded to 21x21; adding 0 * x changes nothing); the others are
// summed in row-major order.
void filter_plane(const float* src, float* dst, int64_t H, int64_t W, const float* kern, int64_t k,
                  std::vector<float>& padded) {
    const int64_t r = k / 2, PW = W + 2 * r;
    pad_reflect(src, H, W, r, padded);
    std::vector<int64_t> offset;
    std::vector<float> weight;
    for (int64_t ky = 0; ky < k; ++ky)
        for (int64_t kx = 0; kx < k; ++kx)
            if (kern[ky * k + kx] != 0) {
                offset.push_back(ky * PW + kx);
                weight.push_back(kern[ky * k + kx]);
            }
    for (int64_t y = 0; y < H; ++y)
        weighted_rows(&padded[y * PW], offset.data(), weight.data(), int64_t(weight.size()), dst + y * W, W);
}

// Separable blur of one plane with a 1-D float kernel g of odd length, reflect padding: along rows,
// then along columns.
void blur_separable(const float* src, float* dst, int64_t H, int64_t W, const std::vector<float>& g,
                    std::vector<float>& row, std::vector<float>& tmp) {
    const int64_t k = static_cast<int64_t>(g.size()), r = k / 2;
    std::vector<int64_t> offset(static_cast<size_t>(k));
    row.resize(static_cast<size_t>(W + 2 * r));
    tmp.resize(static_cast<size_t>(H * W));
    for (int64_t j = 0; j < k; ++j) offset[j] = j;
    for (int64_t y = 0; y < H; ++y) {
        for (int64_t px = 0; px < W + 2 * r; ++px) row[px] = src[y * W + reflect(px - r, W)];
        weighted_rows(row.data(), offset.data(), g.data(), k, &tmp[y * W], W);
    }
    for (int64_t y = 0; y < H; ++y) {
        for (int64_t j = 0; j < k; ++j) offset[j] = reflect(y + j - r, H) * W;
        weighted_rows(tmp.data(), offset.data(), g.data(), k, dst + y * W, W);
    }
}

}  // namespace

Tensor filter2d(const Tensor& images, const Tensor& kernels) {
    check_images(images, "filter2d");
    SR_CHECK(kernels.defined() && (kernels.dim() == 2 || kernels.dim() == 3) && kernels.size(-1) == kernels.size(-2),
             "filter2d: expects kernels [k, k] or [N, k, k], got ", kernels.defined() ? kernels.shape() : Shape{});
    SR_CHECK(kernels.is_cpu(), "filter2d: expects CPU kernels, got ", kernels);
    const int64_t N = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
    const int64_t k = kernels.size(-1), count = kernels.dim() == 3 ? kernels.size(0) : 1;
    SR_CHECK(k % 2 == 1, "filter2d: kernel size must be odd, got ", kernels.shape());
    SR_CHECK(count == 1 || count == N, "filter2d: ", count, " kernels ", kernels.shape(), " for ", N, " images ",
             images.shape(), " (one per image, or one for all)");
    std::vector<float> weights;
    for (double v : to_vector(kernels)) weights.push_back(static_cast<float>(v));
    const Tensor x = images.contiguous();
    Tensor out = Tensor::empty(x.shape(), DType::F32, Device::cpu());
    const float* src = x.data<float>();
    float* dst = out.data<float>();
#pragma omp parallel
    {
        std::vector<float> padded;
#pragma omp for schedule(dynamic)
        for (int64_t p = 0; p < N * C; ++p) {
            const float* kern = &weights[static_cast<size_t>(count == 1 ? 0 : (p / C) * k * k)];
            filter_plane(src + p * H * W, dst + p * H * W, H, W, kern, k, padded);
        }
    }
    return out;
}

Tensor usm_sharp(const Tensor& images, double weight, double threshold) {
    check_images(images, "usm_sharp");
    // cv2.getGaussianKernel(51, 0): sigma = 0.3 ((51 - 1) / 2 - 1) + 0.8 = 8, normalised in double.
    constexpr int64_t kSize = 51;
    const double sigma = 0.3 * ((kSize - 1) * 0.5 - 1) + 0.8;
    std::vector<double> gd(kSize);
    double sum = 0;
    for (int64_t i = 0; i < kSize; ++i) {
        const double d = double(i - kSize / 2);
        gd[i] = std::exp(-d * d / (2 * sigma * sigma));
        sum += gd[i];
    }
    std::vector<float> g(kSize);
    for (int64_t i = 0; i < kSize; ++i) g[i] = static_cast<float>(gd[i] / sum);

    const Tensor x = images.contiguous();
    const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
    Tensor out = Tensor::empty(x.shape(), DType::F32, Device::cpu());
    const float* src = x.data<float>();
    float* dst = out.data<float>();
    const float wt = static_cast<float>(weight), th = static_cast<float>(threshold);
#pragma omp parallel
    {
        std::vector<float> blur(static_cast<size_t>(H * W)), mask(blur.size()), soft(blur.size()), row, tmp;
#pragma omp for schedule(dynamic)
        for (int64_t p = 0; p < planes; ++p) {
            const float* img = src + p * H * W;
            blur_separable(img, blur.data(), H, W, g, row, tmp);
            for (int64_t i = 0; i < H * W; ++i) mask[i] = std::abs(img[i] - blur[i]) * 255.0f > th ? 1.0f : 0.0f;
            blur_separable(mask.data(), soft.data(), H, W, g, row, tmp);
            float* o = dst + p * H * W;
            for (int64_t i = 0; i < H * W; ++i) {
                const float residual = img[i] - blur[i];
                const float sharp = std::clamp(img[i] + wt * residual, 0.0f, 1.0f);
                o[i] = soft[i] * sharp + (1 - soft[i]) * img[i];
            }
        }
    }
    return out;
}

// ---- resizing -----------------------------------------------------------------------------------

namespace {

// How one axis of `in` pixels becomes `out` pixels: output i = sum_t weight[i * taps + t] *
// input[index[i * taps + t]].
struct AxisTaps {
    int64_t taps = 0;
    std::vector<int64_t> index;
    std::vector<float> weight;
};

// PyTorch's area_pixel_compute_scale: 1 / scale_factor when one was given, else in / out (in float).
float source_ratio(int64_t in, int64_t out, double scale) {
    return scale > 0 ? static_cast<float>(1.0 / scale) : static_cast<float>(in) / static_cast<float>(out);
}

// aten's compute_source_index_and_lambda (align_corners=False).
AxisTaps linear_taps(int64_t in, int64_t out, double scale) {
    AxisTaps t{2, std::vector<int64_t>(static_cast<size_t>(2 * out)), std::vector<float>(static_cast<size_t>(2 * out))};
    const float ratio = source_ratio(in, out, scale);
    for (int64_t i = 0; i < out; ++i) {
        int64_t i0 = i, i1 = i;
        float l1 = 0;
        if (in != out) {  // PyTorch copies when the sizes agree
            float real = ratio * (static_cast<float>(i) + 0.5f) - 0.5f;
            if (real < 0) real = 0;
            i0 = static_cast<int64_t>(real);
            i1 = i0 + (i0 < in - 1 ? 1 : 0);
            l1 = std::min(std::max(real - static_cast<float>(i0), 0.0f), 1.0f);
        }
        t.index[2 * i] = i0;
        t.index[2 * i + 1] = i1;
        t.weight[2 * i] = 1.0f - l1;
        t.weight[2 * i + 1] = l1;
    }
    return t;
}

// aten's get_cubic_upsample_coefficients (A = -0.75) at the floor of the source coordinate, with
// the four indices clamped to the image.
AxisTaps cubic_taps(int64_t in, int64_t out, double scale) {
    AxisTaps t{4, std::vector<int64_t>(static_cast<size_t>(4 * out)), std::vector<float>(static_cast<size_t>(4 * out))};
    const float ratio = source_ratio(in, out, scale), A = -0.75f;
    auto near = [A](float x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };           // |x| <= 1
    auto far = [A](float x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };      // 1 < |x| < 2
    for (int64_t i = 0; i < out; ++i) {
        const float real = ratio * (static_cast<float>(i) + 0.5f) - 0.5f;
        const float fl = std::floor(real);
        const float f = real - fl;
        const int64_t i0 = static_cast<int64_t>(fl);
        const float w[4] = {far(f + 1.0f), near(f), near(1.0f - f), far(2.0f - f)};
        for (int64_t j = 0; j < 4; ++j) {
            t.index[4 * i + j] = std::clamp<int64_t>(i0 - 1 + j, 0, in - 1);
            t.weight[4 * i + j] = w[j];
        }
    }
    return t;
}

// Separable resampling of one plane, as PyTorch's generic upsampling kernel sums:
// out[oy][ox] = sum_ty wy * (sum_tx wx * in[iy][ix]), each sum in float, in tap order.
void resample_plane(const float* src, float* dst, int64_t H, int64_t W, const AxisTaps& ty, const AxisTaps& tx,
                    int64_t out_h, int64_t out_w, std::vector<float>& tmp) {
    tmp.resize(static_cast<size_t>(H * out_w));
    for (int64_t y = 0; y < H; ++y)
        for (int64_t ox = 0; ox < out_w; ++ox) {
            const int64_t* idx = &tx.index[ox * tx.taps];
            const float* w = &tx.weight[ox * tx.taps];
            float v = src[y * W + idx[0]] * w[0];
            for (int64_t t = 1; t < tx.taps; ++t) v += src[y * W + idx[t]] * w[t];
            tmp[y * out_w + ox] = v;
        }
    for (int64_t oy = 0; oy < out_h; ++oy) {
        const int64_t* idx = &ty.index[oy * ty.taps];
        const float* w = &ty.weight[oy * ty.taps];
        float* d = dst + oy * out_w;
        for (int64_t ox = 0; ox < out_w; ++ox) d[ox] = tmp[idx[0] * out_w + ox] * w[0];
        for (int64_t t = 1; t < ty.taps; ++t) {
            const float* s = &tmp[idx[t] * out_w];
            for (int64_t ox = 0; ox < out_w; ++ox) d[ox] += s[ox] * w[t];
        }
    }
}

// adaptive_avg_pool2d: output (oy, ox) averages rows [floor(oy H / out_h), ceil((oy + 1) H / out_h))
// and the same for columns, summing in float in row-major order, then / kh / kw.
void area_plane(const float* src, float* dst, int64_t H, int64_t W, int64_t out_h, int64_t out_w) {
    for (int64_t oy = 0; oy < out_h; ++oy) {
        const int64_t y0 = oy * H / out_h, y1 = ((oy + 1) * H + out_h - 1) / out_h;
        for (int64_t ox = 0; ox < out_w; ++ox) {
            const int64_t x0 = ox * W / out_w, x1 = ((ox + 1) * W + out_w - 1) / out_w;
            float sum = 0;
            for (int64_t y = y0; y < y1; ++y)
                for (int64_t x = x0; x < x1; ++x) sum += src[y * W + x];
            dst[oy * out_w + ox] = sum / static_cast<float>(y1 - y0) / static_cast<float>(x1 - x0);
        }
    }
}

}  // namespace

Tensor interpolate(const Tensor& images, int64_t out_h, int64_t out_w, const std::string& mode, double scale_h,
                   double scale_w) {
    check_images(images, "interpolate");
    SR_CHECK(mode == "area" || mode == "bilinear" || mode == "bicubic", "interpolate: mode must be area, bilinear or "
             "bicubic, got '", mode, "'");
    SR_CHECK(std::isfinite(scale_h) && std::isfinite(scale_w) && scale_h >= 0 && scale_w >= 0,
             "interpolate: scale factors must be positive (or 0 for none), got ", scale_h, " and ", scale_w);
    const int64_t N = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
    // As F.interpolate with scale_factor: the size is floor(in * scale), computed in double.
    if (out_h <= 0 && scale_h > 0) out_h = static_cast<int64_t>(std::floor(double(H) * scale_h));
    if (out_w <= 0 && scale_w > 0) out_w = static_cast<int64_t>(std::floor(double(W) * scale_w));
    SR_CHECK(out_h >= 1 && out_w >= 1, "interpolate: output size must be at least 1x1, got ", out_h, "x", out_w, " for ",
             images.shape(), (scale_h > 0 || scale_w > 0) ? " (the scale factor is too small)" : "");
    const Tensor x = images.contiguous();
    Tensor out = Tensor::empty({N, C, out_h, out_w}, DType::F32, Device::cpu());
    const float* src = x.data<float>();
    float* dst = out.data<float>();
    if (mode == "area") {
#pragma omp parallel for schedule(static)
        for (int64_t p = 0; p < N * C; ++p) area_plane(src + p * H * W, dst + p * out_h * out_w, H, W, out_h, out_w);
        return out;
    }
    const bool cubic = mode == "bicubic";
    const AxisTaps ty = cubic ? cubic_taps(H, out_h, scale_h) : linear_taps(H, out_h, scale_h);
    const AxisTaps tx = cubic ? cubic_taps(W, out_w, scale_w) : linear_taps(W, out_w, scale_w);
#pragma omp parallel
    {
        std::vector<float> tmp;
#pragma omp for schedule(static)
        for (int64_t p = 0; p < N * C; ++p)
            resample_plane(src + p * H * W, dst + p * out_h * out_w, H, W, ty, tx, out_h, out_w, tmp);
    }
    return out;
}

// ---- noise ---------------------------------------------------------------------------------

namespace {

// Both Box-Muller values of counter k: sqrt(-2 log u1) (cos 2 pi u2, sin 2 pi u2).
void normal_pair(RandomStream s, uint64_t k, float& z0, float& z1) {
    uint32_t w[4];
    random_words(s, k, w);
    const double u1 = unit_uniform<double>(w[0], w[1]) + 1.0 / 18014398509481984.0;  // off 0, as normal_at
    // The logarithm and the angle in float (the noise is float anyway); u1 keeps its 53 bits until
    // then, so the tails reach 8.5 sigma.
    const float r = std::sqrt(-2.0f * std::log(static_cast<float>(u1)));
    const float a = 6.28318530717958647f * unit_uniform<float>(w[2], w[3]);
    z0 = r * std::cos(a);
    z1 = r * std::sin(a);
}

}  // namespace

Tensor add_gaussian_noise(const Tensor& images, const std::vector<double>& sigma, const std::vector<bool>& gray, Rng& rng) {
    check_images(images, "add_gaussian_noise");
    const int64_t N = images.size(0), C = images.size(1), plane = images.size(2) * images.size(3), per = C * plane;
    check_per_image(sigma, N, "add_gaussian_noise", "sigma");
    check_per_image(gray, N, "add_gaussian_noise", "gray flag");
    const Tensor x = images.contiguous();
    Tensor out = Tensor::empty(x.shape(), DType::F32, Device::cpu());
    const float* src = x.data<float>();
    float* dst = out.data<float>();
    const RandomStream s = rng.stream();
    for (int64_t n = 0; n < N; ++n) {
        const uint64_t first = rng.take(uint64_t(per + 1) / 2);
        const float* img = src + n * per;
        float* o = dst + n * per;
        const int64_t values = gray[n] ? plane : per;  // a gray field uses the first H W values
        const float scale = static_cast<float>(sigma[n]);
#pragma omp parallel for schedule(static)
        for (int64_t m = 0; m < (values + 1) / 2; ++m) {
            float z[2];
            normal_pair(s, first + uint64_t(m), z[0], z[1]);
            for (int64_t j = 2 * m; j < std::min(2 * m + 2, values); ++j) {
                // As BasicSR: noise = randn * sigma / 255 in float.
                const float noise = z[j - 2 * m] * scale / 255.0f;
                if (gray[n])
                    for (int64_t c = 0; c < C; ++c) o[c * plane + j] = std::clamp(img[c * plane + j] + noise, 0.0f, 1.0f);
                else
                    o[j] = std::clamp(img[j] + noise, 0.0f, 1.0f);
            }
        }
    }
    return out;
}

Tensor add_poisson_noise(const Tensor& images, const std::vector<double>& scale, const std::vector<bool>& gray, Rng& rng) {
    check_images(images, "add_poisson_noise");
    const int64_t N = images.size(0), C = images.size(1), plane = images.size(2) * images.size(3), per = C * plane;
    check_per_image(scale, N, "add_poisson_noise", "scale");
    check_per_image(gray, N, "add_poisson_noise", "gray flag");
    for (int64_t n = 0; n < N; ++n)
        SR_CHECK(!gray[n] || C == 3, "add_poisson_noise: gray noise needs RGB images, got ", images.shape());
    const Tensor x = images.contiguous();
    Tensor out = Tensor::empty(x.shape(), DType::F32, Device::cpu());
    const float* src = x.data<float>();
    float* dst = out.data<float>();
    const RandomStream s = rng.stream();
    std::vector<uint8_t> level;
    for (int64_t n = 0; n < N; ++n) {
        const uint64_t first = rng.take(uint64_t(per));
        const float* img = src + n * per;
        float* o = dst + n * per;
        // The image (or its luma) rounded to 8 bits, and the number of distinct values in it.
        const int64_t values = gray[n] ? plane : per;
        level.resize(static_cast<size_t>(values));
        bool seen[256] = {};
        for (int64_t j = 0; j < values; ++j) {
            const float v = gray[n] ? 0.2989f * img[j] + 0.587f * img[plane + j] + 0.114f * img[2 * plane + j] : img[j];
            level[j] = static_cast<uint8_t>(std::clamp(std::nearbyint(v * 255.0f), 0.0f, 255.0f));
            seen[level[j]] = true;
        }
        const int64_t distinct = std::count(std::begin(seen), std::end(seen), true);
        float vals = 1;  // 2^ceil(log2(distinct))
        while (vals < float(distinct)) vals *= 2;
        // q = level / 255 and the sampler's setup for lambda = q vals, once per level.
        float q[256];
        std::vector<PoissonSetup> setup(256);
        for (int l = 0; l < 256; ++l) {
            q[l] = static_cast<float>(l) / 255.0f;
            if (seen[l]) setup[l] = poisson_setup(q[l] * vals);
        }
        const float amount = static_cast<float>(scale[n]);
#pragma omp parallel for schedule(static)
        for (int64_t j = 0; j < values; ++j) {
            const uint8_t l = level[j];
            const float sample = static_cast<float>(poisson_sample(setup[l], s, first + uint64_t(j))) / vals;
            const float noise = (sample - q[l]) * amount;
            if (gray[n])
                for (int64_t c = 0; c < C; ++c) o[c * plane + j] = std::clamp(img[c * plane + j] + noise, 0.0f, 1.0f);
            else
                o[j] = std::clamp(img[j] + noise, 0.0f, 1.0f);
        }
    }
    return out;
}

// ---- JPEG -----------------------------------------------------------------------------------

namespace {

void append_bytes(void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

// One [C, H, W] plane set through an 8-bit JPEG round trip; "" on success, else the reason.
std::string jpeg_image(const float* src, float* dst, int64_t C, int64_t H, int64_t W, int quality) {
    std::vector<uint8_t> pixels(static_cast<size_t>(C * H * W));  // interleaved H x W x C, as stb wants
    for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < H * W; ++i)
            pixels[i * C + c] = static_cast<uint8_t>(std::nearbyint(std::clamp(src[c * H * W + i], 0.0f, 1.0f) * 255.0f));
    std::string bytes;
    if (!stbi_write_jpg_to_func(append_bytes, &bytes, int(W), int(H), int(C), pixels.data(), quality))
        return "the encoder failed";
    int w = 0, h = 0, channels = 0;
    stbi_uc* decoded = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), int(bytes.size()), &w, &h,
                                             &channels, int(C));
    if (!decoded) return std::string("the decoder failed: ") + stbi_failure_reason();
    if (w != W || h != H) {
        stbi_image_free(decoded);
        return "the decoded image has another size";
    }
    for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < H * W; ++i) dst[c * H * W + i] = float(decoded[i * C + c]) / 255.0f;
    stbi_image_free(decoded);
    return "";
}

}  // namespace

Tensor jpeg(const Tensor& images, const std::vector<double>& quality) {
    check_images(images, "jpeg");
    const int64_t N = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
    SR_CHECK(C == 1 || C == 3, "jpeg: expects gray or RGB images, got ", images.shape());
    SR_CHECK(H <= 65535 && W <= 65535, "jpeg: images must be at most 65535 pixels on a side, got ", images.shape());
    check_per_image(quality, N, "jpeg", "quality");
    for (double q : quality) SR_CHECK(q >= 1 && q <= 100, "jpeg: quality must be in [1, 100], got ", q);
    const Tensor x = images.contiguous();
    Tensor out = Tensor::empty(x.shape(), DType::F32, Device::cpu());
    const float* src = x.data<float>();
    float* dst = out.data<float>();
    std::vector<std::string> errors(static_cast<size_t>(N));
#pragma omp parallel for schedule(dynamic)
    for (int64_t n = 0; n < N; ++n)
        errors[n] = jpeg_image(src + n * C * H * W, dst + n * C * H * W, C, H, W, static_cast<int>(std::lround(quality[n])));
    for (int64_t n = 0; n < N; ++n) SR_CHECK(errors[n].empty(), "jpeg: image ", n, " of ", images.shape(), ": ", errors[n]);
    return out;
}

// ---- the batch ------------------------------------------------------------------------------

namespace {

// Stacks N kernels [21, 21] into [N, 21, 21].
Tensor stack_kernels(const std::vector<SampleKernels>& ks, Tensor SampleKernels::*which) {
    std::vector<double> all;
    for (const SampleKernels& k : ks) {
        const std::vector<double> v = to_vector(k.*which);
        all.insert(all.end(), v.begin(), v.end());
    }
    const int64_t size = (ks.front().*which).size(0);
    return from_vector(all, {int64_t(ks.size()), size, size}, DType::F64);
}

const char* const kModes[] = {"area", "bilinear", "bicubic"};

// The random resize of one degradation: direction by probability, a factor, a mode.
ResizeDraw draw_resize(const std::array<double, 3>& prob, const std::array<double, 2>& range, Rng& rng) {
    ResizeDraw r;
    const size_t direction = rng.choice({prob[0], prob[1], prob[2]});
    r.direction = direction == 0 ? "up" : direction == 1 ? "down" : "keep";
    if (direction == 0) r.scale = rng.uniform(1, range[1]);
    if (direction == 1) r.scale = rng.uniform(range[0], 1);
    r.mode = kModes[rng.integer(3)];
    return r;
}

Tensor add_noise(const Tensor& x, bool gaussian, const std::vector<double>& amount, const std::vector<bool>& gray, Rng& rng) {
    return gaussian ? add_gaussian_noise(x, amount, gray, rng) : add_poisson_noise(x, amount, gray, rng);
}

// Rows [top, top + size) and columns [left, left + size) of every image.
Tensor crop(const Tensor& x, int64_t top, int64_t left, int64_t size) {
    return x.slice(2, top, top + size).slice(3, left, left + size).contiguous();
}

// Every random choice of one batch: batch-level ones (stream part 0) in the documented order, then
// each image's parameters (stream part 1, one stream per image).
DegradeRecord draw_degradations(const DegradeOptions& o, uint64_t key, int64_t iteration, int64_t N, int64_t H, int64_t W,
                                int64_t gt_size) {
    const int64_t s = o.scale;
    DegradeRecord rec;
    Rng batch(key, degrade_stream(iteration, 0, 0));
    rec.resize1 = draw_resize(o.resize_prob, o.resize_range, batch);
    rec.gaussian1 = batch.uniform() < o.gaussian_noise_prob;
    rec.second_blur = batch.uniform() < o.second_blur_prob;
    rec.resize2 = draw_resize(o.resize_prob2, o.resize_range2, batch);
    rec.gaussian2 = batch.uniform() < o.gaussian_noise_prob2;
    rec.sinc_before_jpeg = batch.uniform() < 0.5;
    rec.resize_final = {.direction = "to size", .mode = kModes[batch.integer(3)], .scale = 1, .out_h = H / s, .out_w = W / s};
    if (gt_size > 0) {
        rec.crop_top = batch.integer(H / s - gt_size / s + 1);
        rec.crop_left = batch.integer(W / s - gt_size / s + 1);
    }

    for (int64_t n = 0; n < N; ++n) {
        Rng r(key, degrade_stream(iteration, 1, n));
        rec.kernels.push_back(random_sample_kernels(o, r));
        const auto& range1 = rec.gaussian1 ? o.noise_range : o.poisson_scale_range;
        rec.noise1.push_back(r.uniform(range1[0], range1[1]));
        rec.gray1.push_back(r.uniform() < o.gray_noise_prob);
        rec.jpeg1.push_back(r.uniform(o.jpeg_range[0], o.jpeg_range[1]));
        const auto& range2 = rec.gaussian2 ? o.noise_range2 : o.poisson_scale_range2;
        rec.noise2.push_back(r.uniform(range2[0], range2[1]));
        rec.gray2.push_back(r.uniform() < o.gray_noise_prob2);
        rec.jpeg2.push_back(r.uniform(o.jpeg_range2[0], o.jpeg_range2[1]));
    }
    return rec;
}

}  // namespace

DegradedBatch degrade_batch(const Tensor& gt, const DegradeOptions& o, uint64_t seed, int64_t iteration, int64_t gt_size) {
    check_options(o);
    check_images(gt, "degrade_batch");
    const int64_t N = gt.size(0), H = gt.size(2), W = gt.size(3), s = o.scale;
    SR_CHECK(gt.size(1) == 3, "degrade_batch: expects RGB crops [N, 3, H, W], got ", gt.shape());
    SR_CHECK(H % s == 0 && W % s == 0, "degrade_batch: crop size ", H, "x", W, " must be a multiple of the scale ", s,
             " (got ", gt.shape(), ")");
    SR_CHECK(gt_size >= 0 && gt_size % s == 0 && gt_size <= std::min(H, W), "degrade_batch: gt_size must be 0 (no crop) "
             "or a multiple of the scale ", s, " no larger than the crops ", gt.shape(), ", got ", gt_size);
    const uint64_t key = seed ^ kDegradeKey;

    DegradeRecord rec = draw_degradations(o, key, iteration, N, H, W, gt_size);

    DegradedBatch result;
    const Tensor gt_c = gt.contiguous();
    const Tensor gt_usm = usm_sharp(gt_c);

    // The first degradation.
    Tensor out = filter2d(gt_usm, stack_kernels(rec.kernels, &SampleKernels::kernel1));
    out = interpolate(out, 0, 0, rec.resize1.mode, rec.resize1.scale, rec.resize1.scale);
    rec.resize1.out_h = out.size(2);
    rec.resize1.out_w = out.size(3);
    Rng noise1(key, degrade_stream(iteration, 2, 0));
    out = add_noise(out, rec.gaussian1, rec.noise1, rec.gray1, noise1);
    out = jpeg(out, rec.jpeg1);

    // The second degradation. The size is Python's int(ori_h / scale * s2), at least 1.
    if (rec.second_blur) out = filter2d(out, stack_kernels(rec.kernels, &SampleKernels::kernel2));
    rec.resize2.out_h = std::max<int64_t>(1, static_cast<int64_t>(double(H) / double(s) * rec.resize2.scale));
    rec.resize2.out_w = std::max<int64_t>(1, static_cast<int64_t>(double(W) / double(s) * rec.resize2.scale));
    out = interpolate(out, rec.resize2.out_h, rec.resize2.out_w, rec.resize2.mode);
    Rng noise2(key, degrade_stream(iteration, 3, 0));
    out = add_noise(out, rec.gaussian2, rec.noise2, rec.gray2, noise2);

    // JPEG and [resize to the LQ size + the final sinc filter], in either order.
    const Tensor sinc = stack_kernels(rec.kernels, &SampleKernels::sinc);
    if (rec.sinc_before_jpeg) {
        out = filter2d(interpolate(out, H / s, W / s, rec.resize_final.mode), sinc);
        out = jpeg(out, rec.jpeg2);
    } else {
        out = jpeg(out, rec.jpeg2);
        out = filter2d(interpolate(out, H / s, W / s, rec.resize_final.mode), sinc);
    }
    Tensor lq = quantize_u8(out);

    if (gt_size > 0) {
        result.lq = crop(lq, rec.crop_top, rec.crop_left, gt_size / s);
        result.gt = crop(gt_c, rec.crop_top * s, rec.crop_left * s, gt_size);
        result.gt_usm = crop(gt_usm, rec.crop_top * s, rec.crop_left * s, gt_size);
    } else {
        result.lq = lq;
        result.gt = gt_c;
        result.gt_usm = gt_usm;
    }
    result.record = std::move(rec);
    return result;
}

std::string describe(const DegradeRecord& r, size_t n) {
    SR_CHECK(n < r.kernels.size(), "describe: image ", n, " of a batch of ", r.kernels.size());
    std::ostringstream os;
    os.precision(3);
    os << std::fixed;
    auto resize = [&](const ResizeDraw& d) {
        os << d.direction;
        if (d.direction == "up" || d.direction == "down") os << " x" << d.scale;
        os << ' ' << d.mode << " -> " << d.out_w << 'x' << d.out_h;
    };
    auto noise = [&](bool gaussian, double amount, bool gray) {
        os << (gaussian ? "gaussian sigma " : "poisson scale ") << amount << (gray ? " gray" : " colour");
    };
    os << "  1st: blur " << describe(r.kernels[n].params1) << "\n       resize ";
    resize(r.resize1);
    os << "\n       noise ";
    noise(r.gaussian1, r.noise1[n], r.gray1[n]);
    os << "\n       jpeg q" << std::lround(r.jpeg1[n]) << " (" << r.jpeg1[n] << ")\n";
    os << "  2nd: blur " << (r.second_blur ? describe(r.kernels[n].params2) : std::string("skipped")) << "\n       resize ";
    resize(r.resize2);
    os << "\n       noise ";
    noise(r.gaussian2, r.noise2[n], r.gray2[n]);
    std::ostringstream final_step;
    final_step.precision(3);
    final_step << std::fixed << "resize " << r.resize_final.mode << " -> " << r.resize_final.out_w << 'x'
               << r.resize_final.out_h << " + " << describe(r.kernels[n].params_sinc);
    const std::string jpeg_step = "jpeg q" + std::to_string(std::lround(r.jpeg2[n]));
    os << "\n  end: " << (r.sinc_before_jpeg ? final_step.str() + ", then " + jpeg_step
                                             : jpeg_step + ", then " + final_step.str());
    return os.str();
}

// ---- the pair pool ----------------------------------------------------------------------------

PairPool::PairPool(int64_t size) : size_(size) {
    SR_CHECK(size >= 1, "pair pool: size must be >= 1, got ", size);
}

namespace {

void check_pool_input(const Tensor& x, const char* what) {
    SR_CHECK(x.defined() && x.dim() == 4 && x.is_cpu() && x.dtype() == DType::F32, "pair pool: ", what,
             " must be an F32 CPU batch [b, C, H, W], got ", x.defined() ? x.shape() : Shape{});
}

// Shape [n, rest of x's shape].
Shape with_batch(const Tensor& x, int64_t n) {
    Shape s = x.shape();
    s[0] = n;
    return s;
}

}  // namespace

std::pair<Tensor, Tensor> PairPool::exchange(const Tensor& lq, const Tensor& gt, uint64_t seed, int64_t iteration) {
    check_pool_input(lq, "lq");
    check_pool_input(gt, "gt");
    const int64_t b = lq.size(0);
    SR_CHECK(gt.size(0) == b, "pair pool: lq ", lq.shape(), " and gt ", gt.shape(), " have different batch sizes");
    SR_CHECK(b >= 1 && size_ % b == 0, "pair pool: the pool size ", size_, " must be a multiple of the batch size ", b);
    SR_CHECK(iteration >= 0, "pair pool: iteration must be >= 0, got ", iteration);
    if (!lq_.defined()) {
        lq_ = zeros(with_batch(lq, size_));
        gt_ = zeros(with_batch(gt, size_));
        order_.resize(static_cast<size_t>(size_));
        for (int64_t i = 0; i < size_; ++i) order_[i] = i;
    }
    SR_CHECK(with_batch(lq, size_) == lq_.shape() && with_batch(gt, size_) == gt_.shape(), "pair pool: holds lq ",
             lq_.shape(), " and gt ", gt_.shape(), ", got a batch lq ", lq.shape(), ", gt ", gt.shape());
    const int64_t lq_item = lq.numel() / b, gt_item = gt.numel() / b;
    const Tensor lq_c = lq.contiguous(), gt_c = gt.contiguous();
    auto put = [&](int64_t slot, int64_t i) {
        std::memcpy(lq_.data<float>() + slot * lq_item, lq_c.data<float>() + i * lq_item, size_t(lq_item) * sizeof(float));
        std::memcpy(gt_.data<float>() + slot * gt_item, gt_c.data<float>() + i * gt_item, size_t(gt_item) * sizeof(float));
    };
    if (filled_ < size_) {
        SR_CHECK(filled_ + b <= size_, "pair pool: a batch of ", b, " does not fit the ", size_ - filled_, " free places");
        for (int64_t i = 0; i < b; ++i) put(order_[filled_ + i], i);
        filled_ += b;
        return {lq, gt};
    }
    // Shuffle (queue = queue[perm]), hand out the first b pairs, put the new ones in their places.
    Rng rng(seed ^ kPoolKey, uint64_t(iteration));
    std::vector<int64_t> perm(static_cast<size_t>(size_));
    for (int64_t i = 0; i < size_; ++i) perm[i] = i;
    for (int64_t i = size_ - 1; i > 0; --i) std::swap(perm[i], perm[rng.integer(i + 1)]);
    std::vector<int64_t> order(static_cast<size_t>(size_));
    for (int64_t j = 0; j < size_; ++j) order[j] = order_[perm[j]];
    order_ = std::move(order);
    Tensor lq_out = Tensor::empty(lq.shape(), DType::F32, Device::cpu());
    Tensor gt_out = Tensor::empty(gt.shape(), DType::F32, Device::cpu());
    for (int64_t i = 0; i < b; ++i) {
        std::memcpy(lq_out.data<float>() + i * lq_item, lq_.data<float>() + order_[i] * lq_item, size_t(lq_item) * sizeof(float));
        std::memcpy(gt_out.data<float>() + i * gt_item, gt_.data<float>() + order_[i] * gt_item, size_t(gt_item) * sizeof(float));
        put(order_[i], i);
    }
    return {lq_out, gt_out};
}

NamedTensors PairPool::state() const {
    NamedTensors s = {{"fill", from_vector({double(filled_)}, {1}, DType::F64)}};
    if (lq_.defined()) {
        std::vector<double> order(order_.begin(), order_.end());
        s.emplace_back("lq", lq_.clone());
        s.emplace_back("gt", gt_.clone());
        s.emplace_back("order", from_vector(order, {size_}, DType::F64));
    }
    return s;
}

void PairPool::load_state(const NamedTensors& state) {
    const Tensor *fill = nullptr, *lq = nullptr, *gt = nullptr, *order = nullptr;
    for (const auto& [name, t] : state) {
        if (name == "fill") fill = &t;
        if (name == "lq") lq = &t;
        if (name == "gt") gt = &t;
        if (name == "order") order = &t;
    }
    SR_CHECK(fill && fill->numel() == 1, "pair pool: the state has no 'fill'");
    const double f = fill->item();
    SR_CHECK(f >= 0 && f <= double(size_) && f == std::floor(f), "pair pool: 'fill' is ", f, ", the pool holds ", size_);
    if (!lq && !gt && !order && f == 0) {  // a pool that never saw a batch
        *this = PairPool(size_);
        return;
    }
    SR_CHECK(lq && gt && order, "pair pool: the state needs 'lq', 'gt' and 'order'");
    SR_CHECK(lq->dim() == 4 && lq->size(0) == size_ && gt->dim() == 4 && gt->size(0) == size_ && lq->dtype() == DType::F32 &&
                 gt->dtype() == DType::F32,
             "pair pool: the state holds lq ", lq->shape(), " and gt ", gt->shape(), ", not F32 pools of ", size_);
    const std::vector<double> o = to_vector(*order);
    SR_CHECK(int64_t(o.size()) == size_, "pair pool: 'order' has ", o.size(), " entries, not ", size_);
    std::vector<int64_t> slots(o.begin(), o.end());
    std::vector<bool> seen(static_cast<size_t>(size_), false);
    for (size_t i = 0; i < o.size(); ++i) {
        SR_CHECK(o[i] >= 0 && o[i] < double(size_) && o[i] == double(slots[i]) && !seen[slots[i]],
                 "pair pool: 'order' is not a permutation of 0 .. ", size_ - 1);
        seen[slots[i]] = true;
    }
    lq_ = lq->to(Device::cpu()).clone();
    gt_ = gt->to(Device::cpu()).clone();
    order_ = std::move(slots);
    filled_ = static_cast<int64_t>(f);
}

}  // namespace sr
