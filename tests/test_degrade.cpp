// train/degrade: Real-ESRGAN's second-order degradations. The deterministic parts (blur kernels,
// filter2D, USM sharpening, F.interpolate) against tests/fixtures/degrade.safetensors, made by
// tools/reference/make_degrade_fixtures.py from numpy re-implementations of BasicSR's formulas and
// PyTorch itself; the random parts by their statistics (Poisson and Gaussian noise, kernel family
// frequencies), JPEG by quality ordering, and degrade_batch / PairPool by shapes, ranges,
// reproducibility and their error messages.
#include <doctest/doctest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <set>

#include "core/factory.h"
#include "core/safetensors.h"
#include "test_util.h"
#include "train/degrade.h"

using namespace sr;

namespace {

const SafetensorsFile& fixture() {
    static const SafetensorsFile f = read_safetensors(std::string(SR_SOURCE_DIR) + "/tests/fixtures/degrade.safetensors");
    return f;
}

// Checks |got - want| <= tol everywhere (same shape), reporting the worst element.
void check_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
    CAPTURE(what);
    REQUIRE(got.shape() == want.shape());
    const Difference d = largest_difference(got, want);
    INFO("worst at ", d.at, ": got ", d.got, ", want ", d.want);
    CHECK(d.worst <= tol);
}

// A smooth colour picture with edges, [N, 3, H, W] in [0, 1]; image n is shifted by n.
Tensor test_images(int64_t N, int64_t H, int64_t W) {
    std::vector<double> v;
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t y = 0; y < H; ++y)
                for (int64_t x = 0; x < W; ++x) {
                    double p = 0.5 + 0.3 * std::sin(double(x + 3 * n) / 5.0 + double(c)) * std::cos(double(y) / 7.0 - double(c));
                    if (x > W / 2 && y < H / 2) p += 0.15;
                    v.push_back(std::clamp(p, 0.0, 1.0));
                }
    return from_vector(v, {N, 3, H, W});
}

double psnr(const Tensor& a, const Tensor& b) {
    const auto x = to_vector(a), y = to_vector(b);
    double mse = 0;
    for (size_t i = 0; i < x.size(); ++i) mse += (x[i] - y[i]) * (x[i] - y[i]);
    mse /= double(x.size());
    return 10 * std::log10(1.0 / mse);
}

bool is_8bit(const Tensor& t) {
    for (double v : to_vector(t))
        if (std::abs(v * 255 - std::round(v * 255)) > 1e-4 || v < 0 || v > 1) return false;
    return true;
}

double kernel_sum(const Tensor& k) {
    double s = 0;
    for (double v : to_vector(k)) s += v;
    return s;
}

// k[i][j] against k[map(i, j)] for every element.
template <class Map>
bool symmetric(const Tensor& kernel, Map map) {
    const auto v = to_vector(kernel);
    const int64_t k = kernel.size(0);
    for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j) {
            const auto [a, b] = map(i, j, k);
            if (std::abs(v[i * k + j] - v[a * k + b]) > 1e-15) return false;
        }
    return true;
}

const auto kTranspose = [](int64_t i, int64_t j, int64_t) { return std::pair{j, i}; };
const auto kFlipRows = [](int64_t i, int64_t j, int64_t k) { return std::pair{k - 1 - i, j}; };
const auto kPointMirror = [](int64_t i, int64_t j, int64_t k) { return std::pair{k - 1 - i, k - 1 - j}; };

}  // namespace

// ---- kernels ---------------------------------------------------------------------------------

TEST_CASE("blur kernels equal BasicSR's formulas (numpy reference) for all six families and the sinc") {
    const std::map<std::string, KernelFamily> families = {
        {"iso", KernelFamily::iso},
        {"iso_narrow", KernelFamily::iso},
        {"aniso", KernelFamily::aniso},
        {"generalized_iso", KernelFamily::generalized_iso},
        {"generalized_aniso", KernelFamily::generalized_aniso},
        {"plateau_iso", KernelFamily::plateau_iso},
        {"plateau_aniso", KernelFamily::plateau_aniso},
        {"sinc", KernelFamily::sinc},
        {"sinc_full", KernelFamily::sinc},
        {"sinc_nyquist", KernelFamily::sinc}};
    for (const auto& [name, family] : families) {
        const auto p = to_vector(fixture().at("kernel." + name + ".params"));  // size, pad_to, sx, sy, theta, beta, omega
        KernelParams params{.family = family, .size = int64_t(p[0]), .sigma_x = p[2], .sigma_y = p[3], .theta = p[4],
                            .beta = p[5], .omega_c = p[6]};
        const Tensor got = make_kernel(params, int64_t(p[1]));
        CHECK(got.dtype() == DType::F64);
        check_close(got, fixture().at("kernel." + name), 1e-13, name);
    }
}

TEST_CASE("every kernel family sums to 1, has its symmetries, and pads to 21x21 with zeros") {
    const int64_t k = 15;
    for (int f = 0; f < 8; ++f) {
        const KernelParams p{.family = KernelFamily(f), .size = k, .sigma_x = 2.1, .sigma_y = 0.7, .theta = 0.6, .beta = 1.7,
                             .omega_c = 1.3};
        CAPTURE(kernel_family_name(p.family));
        const Tensor kernel = make_kernel(p);
        REQUIRE(kernel.shape() == Shape{k, k});
        CHECK(kernel_sum(kernel) == doctest::Approx(1).epsilon(1e-12));
        CHECK(symmetric(kernel, kPointMirror));  // every kernel here is symmetric about its centre
        const bool isotropic = p.family == KernelFamily::iso || p.family == KernelFamily::generalized_iso ||
                               p.family == KernelFamily::plateau_iso || p.family == KernelFamily::sinc ||
                               p.family == KernelFamily::pulse;
        CHECK(symmetric(kernel, kTranspose) == isotropic);
        CHECK(symmetric(kernel, kFlipRows) == isotropic);

        const Tensor padded = make_kernel(p, 21);
        REQUIRE(padded.shape() == Shape{21, 21});
        CHECK(kernel_sum(padded) == doctest::Approx(1).epsilon(1e-12));
        const auto v = to_vector(padded);
        for (int64_t i = 0; i < 21; ++i)
            for (int64_t j = 0; j < 21; ++j)
                if (i < 3 || i >= 18 || j < 3 || j >= 18) REQUIRE(v[i * 21 + j] == 0);
    }
    // The rotation turns an anisotropic kernel: theta + pi/2 swaps the two axes.
    const Tensor a = bivariate_gaussian(11, 2.0, 0.5, 0.0), b = bivariate_gaussian(11, 0.5, 2.0, std::numbers::pi / 2);
    CHECK(largest_difference(a, b).worst < 1e-12);
    CHECK(symmetric(bivariate_gaussian(11, 2.0, 0.5, 0.0), kFlipRows));
}

TEST_CASE("random_sample_kernels draws Real-ESRGAN's families, sizes and sinc probabilities") {
    const DegradeOptions o;
    const int draws = 1000;
    std::map<std::string, int> family1;
    std::set<int64_t> sizes;
    int pulses = 0;
    for (int i = 0; i < draws; ++i) {
        Rng rng(7, uint64_t(i));
        const SampleKernels s = random_sample_kernels(o, rng);
        for (const Tensor* k : {&s.kernel1, &s.kernel2, &s.sinc}) {
            REQUIRE(k->shape() == Shape{21, 21});
            REQUIRE(kernel_sum(*k) == doctest::Approx(1).epsilon(1e-12));
        }
        ++family1[kernel_family_name(s.params1.family)];
        sizes.insert(s.params1.size);
        REQUIRE(s.params1.size % 2 == 1);
        if (s.params1.family != KernelFamily::sinc) REQUIRE(s.params1.sigma_x >= 0.2);
        if (s.params2.family != KernelFamily::sinc) REQUIRE(s.params2.sigma_x <= 1.5);
        if (s.params1.family == KernelFamily::sinc)
            REQUIRE(s.params1.omega_c >= (s.params1.size < 13 ? std::numbers::pi / 3 : std::numbers::pi / 5));
        pulses += s.params_sinc.family == KernelFamily::pulse;
    }
    CHECK(sizes == std::set<int64_t>{7, 9, 11, 13, 15, 17, 19, 21});
    // Expected shares: sinc 0.1, the families 0.9 x kernel_prob; 4 standard deviations of slack.
    auto share = [&](const std::string& name, double p) {
        CAPTURE(name);
        CHECK(std::abs(family1[name] / double(draws) - p) < 4 * std::sqrt(p * (1 - p) / draws) + 1e-3);
    };
    share("sinc", 0.1);
    share("iso", 0.9 * 0.45);
    share("aniso", 0.9 * 0.25);
    share("generalized_iso", 0.9 * 0.12);
    share("plateau_iso", 0.9 * 0.12);
    CHECK(std::abs(pulses / double(draws) - 0.2) < 4 * std::sqrt(0.2 * 0.8 / draws));
}

// ---- filtering and resizing against PyTorch ---------------------------------------------------------

TEST_CASE("filter2d equals BasicSR's filter2D (reflect padding + F.conv2d)") {
    const Tensor x = fixture().at("filter.input");
    check_close(filter2d(x, fixture().at("filter.kernels")), fixture().at("filter.output"), 1e-5, "one kernel per image");
    const Tensor single = fixture().at("filter.single_kernel");
    check_close(filter2d(x, single), fixture().at("filter.single_output"), 1e-5, "one kernel [k, k]");
    check_close(filter2d(x, single.reshape({1, 7, 7})), fixture().at("filter.single_output"), 1e-5, "one kernel [1, k, k]");
    // A pulse changes nothing.
    CHECK(largest_difference(filter2d(x, pulse_kernel(21)), x).worst == 0);
}

TEST_CASE("usm_sharp equals BasicSR's USMSharp") {
    check_close(usm_sharp(fixture().at("usm.input")), fixture().at("usm.output"), 1e-5, "usm");
}

TEST_CASE("interpolate equals F.interpolate for area, bilinear and bicubic, to sizes and by scale factors") {
    const Tensor x = fixture().at("interp.input");
    const std::vector<std::pair<int64_t, int64_t>> sizes = {{7, 23}, {13, 17}, {30, 5}, {1, 1}};
    const std::vector<std::pair<std::string, double>> scales = {{"0.37", 0.37}, {"1.3", 1.3}, {"0.15", 0.15}, {"1.5", 1.5}, {"1.0", 1.0}};
    for (const std::string mode : {"area", "bilinear", "bicubic"}) {
        for (const auto& [h, w] : sizes) {
            const std::string key = "interp." + mode + ".size_" + std::to_string(h) + "x" + std::to_string(w);
            check_close(interpolate(x, h, w, mode), fixture().at(key), 1e-5, key);
        }
        for (const auto& [label, s] : scales) {
            const std::string key = "interp." + mode + ".scale_" + label;
            check_close(interpolate(x, 0, 0, mode, s, s), fixture().at(key), 1e-5, key);
        }
    }
}

// ---- random numbers and noise -------------------------------------------------------------------

TEST_CASE("Rng is a reproducible sequence over its Philox stream") {
    Rng a(3, 9), b(3, 9), c(3, 10);
    for (int i = 0; i < 5; ++i) {
        const double u = a.uniform();
        CHECK(u == b.uniform());
        CHECK(u != c.uniform());
        CHECK((u >= 0 && u < 1));
    }
    CHECK(a.position() == 5);
    Rng r(1, 2);
    std::vector<int> counts(3, 0), picks(3, 0);
    double sum = 0, sum2 = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
        const int64_t k = r.integer(3);
        REQUIRE((k >= 0 && k < 3));
        ++counts[size_t(k)];
        ++picks[r.choice({0.2, 0.0, 0.8})];
        const double z = r.normal();
        sum += z;
        sum2 += z * z;
    }
    for (int k : counts) CHECK(std::abs(k / double(n) - 1.0 / 3) < 0.015);
    CHECK(picks[1] == 0);
    CHECK(std::abs(picks[0] / double(n) - 0.2) < 0.012);
    CHECK(std::abs(sum / n) < 0.03);
    CHECK(std::abs(sum2 / n - 1) < 0.04);
}

TEST_CASE("the Poisson sampler has the right mean, variance and distribution (inversion and PTRS)") {
    for (const double lambda : {0.3, 4.0, 9.99, 10.0, 37.5, 250.0}) {
        CAPTURE(lambda);
        Rng r(11, uint64_t(lambda * 100));
        const int n = 40000;
        std::map<int64_t, int> hist;
        double sum = 0, sum2 = 0;
        for (int i = 0; i < n; ++i) {
            const int64_t k = r.poisson(lambda);
            REQUIRE(k >= 0);
            ++hist[k];
            sum += double(k);
            sum2 += double(k) * double(k);
        }
        const double mean = sum / n, var = sum2 / n - mean * mean;
        CHECK(std::abs(mean - lambda) < 4 * std::sqrt(lambda / n));
        CHECK(std::abs(var / lambda - 1) < 4 * std::sqrt((1 / lambda + 2) / n));
        // Chi-square over the values expected at least 20 times: well within df + 6 sqrt(2 df).
        double chi2 = 0;
        int df = 0;
        for (int64_t k = 0; k < int64_t(lambda * 3 + 30); ++k) {
            const double expected = n * std::exp(-lambda + double(k) * std::log(lambda) - std::lgamma(double(k) + 1));
            if (expected < 20) continue;
            const double observed = hist.count(k) ? hist[k] : 0;
            chi2 += (observed - expected) * (observed - expected) / expected;
            ++df;
        }
        CHECK(chi2 < df + 6 * std::sqrt(2.0 * df));
    }
    CHECK(poisson_at({1, 2}, 3, 0.0) == 0);
}

TEST_CASE("Gaussian noise has the requested sigma; gray noise is the same in every channel") {
    const Tensor flat = full({2, 3, 64, 64}, 0.5);
    Rng rng(5, 0);
    const Tensor out = add_gaussian_noise(flat, {10.0, 20.0}, {false, true}, rng);
    CHECK(rng.position() == 2 * (3 * 64 * 64 / 2));
    const auto v = to_vector(out);
    const int64_t per = 3 * 64 * 64, plane = 64 * 64;
    for (int n = 0; n < 2; ++n) {
        double sum2 = 0;
        for (int64_t j = 0; j < per; ++j) sum2 += std::pow((v[n * per + j] - 0.5) * 255, 2);
        CHECK(std::sqrt(sum2 / double(per)) == doctest::Approx(n == 0 ? 10.0 : 20.0).epsilon(0.04));
    }
    bool gray_same = true, colour_differs = false;
    for (int64_t j = 0; j < plane; ++j) {
        gray_same = gray_same && v[per + j] == v[per + plane + j] && v[per + j] == v[per + 2 * plane + j];
        colour_differs = colour_differs || v[j] != v[plane + j];
    }
    CHECK(gray_same);
    CHECK(colour_differs);
    // Clipped to [0, 1]; the same stream gives the same noise.
    for (double x : v) REQUIRE((x >= 0 && x <= 1));
    Rng again(5, 0);
    CHECK(largest_difference(add_gaussian_noise(flat, {10.0, 20.0}, {false, true}, again), out).worst == 0);
}

TEST_CASE("Poisson noise keeps the mean and has variance q / vals * scale^2") {
    // 103 distinct 8-bit levels (76 .. 178) -> vals = 128; values stay far from the clipping bounds.
    const int64_t H = 64, W = 64;
    std::vector<double> v;
    for (int64_t c = 0; c < 3; ++c)
        for (int64_t i = 0; i < H * W; ++i) v.push_back((76.0 + double((i * 7 + c) % 103)) / 255.0);
    const Tensor img = from_vector(v, {1, 3, H, W});
    for (const bool gray : {false, true}) {
        CAPTURE(gray);
        // The 8-bit values the noise is drawn for (the luma for gray noise), and vals.
        std::vector<double> q(v);
        if (gray)
            for (size_t j = 0; j < v.size(); ++j) {
                const size_t i = j % size_t(H * W);
                q[j] = std::nearbyint(float(0.2989f * float(v[i]) + 0.587f * float(v[i + H * W]) +
                                            0.114f * float(v[i + 2 * H * W])) * 255.0f) / 255;
            }
        const size_t distinct = std::set<double>(q.begin(), q.end()).size();
        double vals = 1;
        while (vals < double(distinct)) vals *= 2;
        if (!gray) CHECK(vals == 128);

        Rng rng(8, gray);
        const double scale = 2.0;
        const auto out = to_vector(add_poisson_noise(img, {scale}, {gray}, rng));
        double sum = 0, sum2 = 0, expected_var = 0;
        for (size_t j = 0; j < v.size(); ++j) {
            const double d = out[j] - v[j];
            sum += d;
            sum2 += d * d;
            expected_var += q[j] / vals * scale * scale;
        }
        // Gray noise is one field repeated in three channels: the sum's variance triples.
        CHECK(std::abs(sum) < 4 * std::sqrt(expected_var * (gray ? 3 : 1)));
        CHECK(sum2 / expected_var == doctest::Approx(1).epsilon(gray ? 0.08 : 0.05));
    }
}

TEST_CASE("JPEG: a real codec, closer to the input at quality 95 than at 30, 8-bit output") {
    const Tensor x = test_images(2, 48, 40);
    const Tensor hi = jpeg(x, {95, 95}), lo = jpeg(x, {30, 30});
    REQUIRE(hi.shape() == x.shape());
    CHECK(is_8bit(hi));
    CHECK(is_8bit(lo));
    const double p_hi = psnr(hi, x), p_lo = psnr(lo, x);
    INFO("PSNR q95 ", p_hi, " dB, q30 ", p_lo, " dB");
    CHECK(p_hi > 35);
    CHECK(p_hi > p_lo + 3);
    CHECK(p_lo > 25);
    // Gray images too; per-image quality.
    const Tensor gray = x.slice(1, 0, 1).contiguous();
    CHECK(psnr(jpeg(gray, {90, 90}), gray) > 30);
    const auto mixed = jpeg(x, {95, 30});
    CHECK(largest_difference(mixed.slice(0, 0, 1), hi.slice(0, 0, 1)).worst == 0);
    CHECK(largest_difference(mixed.slice(0, 1, 2), lo.slice(0, 1, 2)).worst == 0);
}

// ---- the batch -------------------------------------------------------------------------------

TEST_CASE("degrade_batch: shapes, 8-bit LQ in [0, 1], reproducible from (seed, iteration), thread-count independent") {
    const DegradeOptions o;
    const Tensor gt = test_images(3, 64, 48);
    const DegradedBatch a = degrade_batch(gt, o, 42, 7);
    CHECK(a.lq.shape() == Shape{3, 3, 16, 12});
    CHECK(a.gt.shape() == gt.shape());
    CHECK(a.gt_usm.shape() == gt.shape());
    CHECK(is_8bit(a.lq));
    CHECK(largest_difference(a.gt, gt).worst == 0);
    CHECK(largest_difference(a.gt_usm, usm_sharp(gt)).worst == 0);
    CHECK(a.record.kernels.size() == 3);

    const DegradedBatch b = degrade_batch(gt, o, 42, 7);
    CHECK(largest_difference(a.lq, b.lq).worst == 0);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    const DegradedBatch serial = degrade_batch(gt, o, 42, 7);
    omp_set_num_threads(threads);
    CHECK(largest_difference(a.lq, serial.lq).worst == 0);

    int differ = 0;
    for (int64_t it = 8; it < 12; ++it) differ += largest_difference(degrade_batch(gt, o, 42, it).lq, a.lq).worst > 0;
    CHECK(differ == 4);
    CHECK(largest_difference(degrade_batch(gt, o, 43, 7).lq, a.lq).worst > 0);

    const std::string text = describe(a.record, 0);
    CHECK(text.find("1st: blur") != std::string::npos);
    CHECK(text.find("jpeg q") != std::string::npos);
}

TEST_CASE("degrade_batch: paired random crop keeps LQ and GT aligned") {
    const Tensor gt = test_images(2, 64, 64);
    const DegradeOptions o;
    const DegradedBatch full = degrade_batch(gt, o, 1, 3);
    const DegradedBatch cropped = degrade_batch(gt, o, 1, 3, 32);
    CHECK(cropped.lq.shape() == Shape{2, 3, 8, 8});
    CHECK(cropped.gt.shape() == Shape{2, 3, 32, 32});
    CHECK(cropped.gt_usm.shape() == Shape{2, 3, 32, 32});
    const int64_t top = cropped.record.crop_top, left = cropped.record.crop_left;
    CHECK((top >= 0 && top <= 8 && left >= 0 && left <= 8));
    CHECK(largest_difference(cropped.lq, full.lq.slice(2, top, top + 8).slice(3, left, left + 8)).worst == 0);
    CHECK(largest_difference(cropped.gt, gt.slice(2, 4 * top, 4 * top + 32).slice(3, 4 * left, 4 * left + 32)).worst == 0);
    CHECK(largest_difference(cropped.gt_usm, full.gt_usm.slice(2, 4 * top, 4 * top + 32).slice(3, 4 * left, 4 * left + 32))
              .worst == 0);
}

TEST_CASE("degrade_batch with every degradation turned down is a plain resize of the sharpened GT") {
    DegradeOptions o;
    o.kernel_prob = {1, 0, 0, 0, 0, 0};
    o.sinc_prob = 0;
    o.blur_sigma = {0.05, 0.05};  // a pulse, in double
    o.resize_prob = {0, 0, 1};
    o.noise_range = {0, 0};
    o.gaussian_noise_prob = 1;
    o.jpeg_range = {100, 100};
    o.second_blur_prob = 0;
    o.resize_prob2 = {0, 0, 1};
    o.noise_range2 = {0, 0};
    o.gaussian_noise_prob2 = 1;
    o.jpeg_range2 = {100, 100};
    o.final_sinc_prob = 0;
    const Tensor gt = test_images(2, 64, 64);
    const DegradedBatch d = degrade_batch(gt, o, 0, 0);
    const Tensor plain = interpolate(usm_sharp(gt), 16, 16, d.record.resize2.mode);
    CHECK(d.record.resize1.direction == "keep");
    CHECK(d.record.resize2.out_h == 16);
    CHECK(psnr(d.lq, plain) > 40);  // JPEG at quality 100 and 8-bit rounding only
}

TEST_CASE("the pair pool returns the first batches unchanged, then mixes aligned pairs, and resumes exactly") {
    // Pairs carry their id: lq and gt filled with id / 100.
    auto batch = [](int first) {
        std::vector<double> l, g;
        for (int i = 0; i < 2; ++i) {
            l.insert(l.end(), 3 * 4 * 4, (first + i) / 100.0);
            g.insert(g.end(), 3 * 8 * 8, (first + i) / 100.0);
        }
        return std::pair{from_vector(l, {2, 3, 4, 4}), from_vector(g, {2, 3, 8, 8})};
    };
    PairPool pool(6), resumed(6);
    std::set<int> inside;
    NamedTensors saved;
    std::vector<Tensor> outputs;
    for (int it = 0; it < 10; ++it) {
        const auto [lq, gt] = batch(2 * it);
        if (it == 4) saved = pool.state();
        const auto [out_lq, out_gt] = pool.exchange(lq, gt, 99, it);
        outputs.push_back(out_lq);
        if (it < 3) {
            CHECK(out_lq.is_same(lq));
            CHECK(out_gt.is_same(gt));
            CHECK(pool.filled() == 2 * (it + 1));
        } else {
            for (int i = 0; i < 2; ++i) {
                const int id = int(std::lround(to_vector(out_lq.slice(0, i, i + 1))[0] * 100));
                CHECK(to_vector(out_gt.slice(0, i, i + 1))[5] == doctest::Approx(id / 100.0));  // still a pair
                CHECK(inside.count(id) == 1);  // came from the pool
                inside.erase(id);
            }
        }
        inside.insert(2 * it);
        inside.insert(2 * it + 1);
    }
    // Resuming from the state saved before iteration 4 gives the same outputs.
    resumed.load_state(saved);
    for (int it = 4; it < 10; ++it) {
        const auto [lq, gt] = batch(2 * it);
        CHECK(largest_difference(resumed.exchange(lq, gt, 99, it).first, outputs[size_t(it)]).worst == 0);
    }
}

TEST_CASE("degradation errors name the problem") {
    const Tensor x = test_images(2, 16, 16);
    CHECK(error_of([&] { filter2d(x, zeros({4, 4}, {DType::F64})); }).find("kernel size must be odd") != std::string::npos);
    CHECK(error_of([&] { filter2d(x, zeros({3, 5, 5})); }).find("3 kernels") != std::string::npos);
    CHECK(error_of([&] { filter2d(x.reshape({6, 16, 16}), pulse_kernel(3)); }).find("expects images [N, C, H, W]") !=
          std::string::npos);
    CHECK(error_of([&] { interpolate(x, 4, 4, "nearest"); }).find("mode must be area, bilinear or bicubic") !=
          std::string::npos);
    CHECK(error_of([&] { interpolate(x, 0, 0, "area", 0.01, 0.01); }).find("at least 1x1") != std::string::npos);
    CHECK(error_of([&] { degrade_batch(test_images(1, 18, 16), DegradeOptions{}, 0, 0); })
              .find("must be a multiple of the scale 4") != std::string::npos);
    CHECK(error_of([&] { degrade_batch(x, DegradeOptions{}, 0, 0, 6); }).find("gt_size must be") != std::string::npos);
    DegradeOptions bad;
    bad.gray_noise_prob = 1.5;
    CHECK(error_of([&] { degrade_batch(x, bad, 0, 0); }).find("gray_noise_prob must be a probability") != std::string::npos);
    PairPool pool(5);
    CHECK(error_of([&] { pool.exchange(zeros({2, 3, 4, 4}), zeros({2, 3, 16, 16}), 0, 0); })
              .find("pool size 5 must be a multiple of the batch size 2") != std::string::npos);
    CHECK(error_of([&] { jpeg(x, {50}); }).find("one quality per image") != std::string::npos);
    Rng rng(0, 0);
    CHECK(error_of([&] { add_poisson_noise(x.slice(1, 0, 2).contiguous(), {1, 1}, {true, false}, rng); })
              .find("gray noise needs RGB") != std::string::npos);
}
