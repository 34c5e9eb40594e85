// Real-ESRGAN's second-order degradation (Wang et al., "Real-ESRGAN: Training Real-World Blind
// Super-Resolution with Pure Synthetic Data", ICCVW 2021): how a clean high-resolution crop becomes
// a realistically bad low-resolution photo, so that a network trained on the pairs learns to undo
// blur, noise, resizing and JPEG artefacts of real images.
//
// The formulas follow xinntao/Real-ESRGAN (realesrgan/data/realesrgan_dataset.py for the kernels,
// realesrgan/models/realesrgan_model.py `feed_data` for the pipeline) and XPixelGroup/BasicSR
// (basicsr/data/degradations.py, basicsr/utils/img_process_util.py), on CPU F32 tensors [N, C, H, W]
// with values in [0, 1].
//
// The pipeline, for a batch of GT crops (degrade_batch):
//
//   gt_usm = usm_sharp(gt)                         unsharp masking: the target is a little sharper
//   --- first degradation ---------------------------------------------------------------------------
//   blur with kernel1 (one per image)              Gaussian / generalized Gaussian / plateau, iso or
//                                                  aniso, or a 2-D sinc; 7x7 ... 21x21
//   resize by s1 (one for the whole batch)         up (1 .. 1.5) / down (0.15 .. 1) / keep, with mode
//                                                  area, bilinear or bicubic (PyTorch's F.interpolate)
//   Gaussian noise (sigma 1 .. 30) or Poisson      per image: strength, and colour or gray noise
//   noise (scale 0.05 .. 3)
//   JPEG (quality 30 .. 95, per image)
//   --- second degradation --------------------------------------------------------------------------
//   blur with kernel2 (probability 0.8)
//   resize to (H / scale * s2, W / scale * s2)     s2: up 1 .. 1.2 / down 0.3 .. 1 / keep
//   Gaussian (1 .. 25) or Poisson (0.05 .. 2.5) noise
//   either  [resize to H / scale, W / scale + final sinc filter] then JPEG (probability 0.5)
//   or      JPEG then [resize + final sinc filter]
//   lq = clamp(round(255 out), 0, 255) / 255       the LQ image is an 8-bit image
//   optionally a paired random crop (gt_size)
//
// The final "sinc" filter is a 2-D ideal low-pass (ringing and overshoot, as in real photos); with
// probability 1 - final_sinc_prob it is the 21x21 identity (a pulse).
//
// Randomness. Every number comes from the counter-based Philox generator of core/rng.h through `Rng`:
// a draw is a pure function of (key, stream, counter). For degrade_batch(gt, o, seed, iteration):
//   key    = seed ^ kDegradeKey (so these streams never coincide with TrainData's (seed, iteration))
//   stream = degrade_stream(iteration, part, sample) = iteration << 24 | part << 20 | sample
//     part 0 (sample 0): the batch-level choices, drawn in this order: resize 1 (direction, scale
//       unless keep, mode), Gaussian-or-Poisson 1, second blur, resize 2 (direction, scale, mode),
//       Gaussian-or-Poisson 2, order of the final steps, final resize mode, crop top, crop left;
//     part 1 (sample i): image i's kernels (kernel1, kernel2, final sinc, as random_sample_kernels),
//       then noise strength 1, gray 1, JPEG quality 1, noise strength 2, gray 2, JPEG quality 2;
//     part 2 and part 3 (sample 0): the noise values of the first and the second degradation.
// So a batch is a pure function of (gt, options, seed, iteration): reproducible, independent of the
// thread count, and a resumed run sees the same degradations. Noise fields are counter-based too
// (value j of image i uses a fixed counter), so they are computed in parallel. The image operations
// run in parallel (OpenMP) over image planes, images or noise values, never splitting a sum.
//
// Where this differs from Real-ESRGAN, deliberately:
//   - the random numbers are ours, not numpy's / PyTorch's: the same seed does not give Real-ESRGAN's
//     batch, only batches drawn from the same distributions;
//   - JPEG is a real codec (stb_image_write, then stb_image) at an integer quality, where Real-ESRGAN
//     uses DiffJPEG, a PyTorch imitation of JPEG with a fractional quality: the same kind of
//     artefacts (8x8 blocks, the same base quantisation tables and quality scaling), not the same
//     pixel values; stb halves the chroma resolution (4:2:0) only up to quality 90, DiffJPEG always;
//   - gray Gaussian noise is one field per image (BasicSR draws one H x W field shared by the batch);
//   - the second resize gives at least one pixel, and reflect padding wider than the image keeps
//     reflecting (PyTorch raises errors there; only tiny crops get there).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "models/module.h"  // NamedTensors

namespace sr {

// Real-ESRGAN's defaults (options/train_realesrgan_x4plus.yml): kernel families in the order
// iso, aniso, generalized_iso, generalized_aniso, plateau_iso, plateau_aniso.
struct DegradeOptions {
    int64_t scale = 4;
    std::vector<double> kernel_prob = {0.45, 0.25, 0.12, 0.03, 0.12, 0.03};
    double sinc_prob = 0.1;
    std::array<double, 2> blur_sigma{0.2, 3.0}, betag_range{0.5, 4.0}, betap_range{1.0, 2.0};
    std::vector<double> kernel_prob2 = {0.45, 0.25, 0.12, 0.03, 0.12, 0.03};
    double sinc_prob2 = 0.1;
    std::array<double, 2> blur_sigma2{0.2, 1.5}, betag_range2{0.5, 4.0}, betap_range2{1.0, 2.0};
    double final_sinc_prob = 0.8;
    std::array<double, 3> resize_prob{0.2, 0.7, 0.1};  // up, down, keep
    std::array<double, 2> resize_range{0.15, 1.5};
    double gaussian_noise_prob = 0.5;
    std::array<double, 2> noise_range{1, 30}, poisson_scale_range{0.05, 3.0};
    double gray_noise_prob = 0.4;
    std::array<double, 2> jpeg_range{30, 95};
    double second_blur_prob = 0.8;
    std::array<double, 3> resize_prob2{0.3, 0.4, 0.3};
    std::array<double, 2> resize_range2{0.3, 1.2};
    double gaussian_noise_prob2 = 0.5;
    std::array<double, 2> noise_range2{1, 25}, poisson_scale_range2{0.05, 2.5};
    double gray_noise_prob2 = 0.4;
    std::array<double, 2> jpeg_range2{30, 95};
};

// Throws an sr::Error naming the first bad option (a probability outside [0, 1], an empty or
// reversed range, kernel_prob not 6 non-negative weights with a positive sum, scale < 1).
void check_options(const DegradeOptions& o);

// ---- random numbers ----------------------------------------------------------------------------

// The Philox keys of degrade_batch and PairPool: seed ^ key.
constexpr uint64_t kDegradeKey = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kPoolKey = 0xD1B54A32D192ED03ull;
// iteration << 24 | part << 20 | sample (iteration in [0, 2^40), part < 16, sample < 2^20).
uint64_t degrade_stream(int64_t iteration, int part, int64_t sample);

// A sequential random source over the Philox stream (seed, stream): the k-th number drawn uses
// counter k (its four 32-bit words; a uniform takes 53 bits of them). Cheap to make: one per use.
class Rng {
public:
    Rng(uint64_t seed, uint64_t stream) : stream_{seed, stream} {}

    double uniform();                        // [0, 1)
    double uniform(double lo, double hi);    // [lo, hi)
    double normal();                         // standard normal (Box-Muller, as core's normal_at)
    int64_t integer(int64_t n);              // [0, n), n >= 1
    // Index i with probability weights[i] / sum (Python's random.choices with one pick).
    size_t choice(const std::vector<double>& weights);
    // Exact Poisson sampler (poisson_at): inversion below lambda 10, PTRS (Hormann 1993) above.
    int64_t poisson(double lambda);

    // For counter-based fields: reserves the next n counters and returns the first, so value j of a
    // field can be computed from counter first + j by any thread.
    uint64_t take(uint64_t n);
    RandomStream stream() const { return stream_; }
    uint64_t position() const { return next_; }

private:
    RandomStream stream_;
    uint64_t next_ = 0;
};

// A Poisson(lambda) sample from counter k of stream s. Inversion (lambda < 10) uses one uniform;
// PTRS uses two per attempt, and attempt r > 0 reads counter k + r * 2^44 (fields stay below 2^44).
int64_t poisson_at(RandomStream s, uint64_t k, double lambda);

// ---- blur kernels ------------------------------------------------------------------------------
//
// Kernels are F64 CPU tensors [k, k] (odd k) that sum to 1, computed in double as BasicSR does in
// numpy; filter2d rounds them to float, as Real-ESRGAN's torch.FloatTensor(kernel) does.
//
// Bivariate kernels are functions of q = [x y] S^-1 [x y]^T with the covariance
// S = U diag(sigma_x^2, sigma_y^2) U^T, U the rotation by theta, on the grid x (column), y (row) in
// -(k-1)/2 ... (k-1)/2 (numpy's meshgrid order; element [i][j] is at x = ax[j], y = ax[i]).
// Isotropic kernels are sigma_x = sigma_y, theta = 0.

enum class KernelFamily { iso, aniso, generalized_iso, generalized_aniso, plateau_iso, plateau_aniso, sinc, pulse };
const char* kernel_family_name(KernelFamily f);  // "iso", ..., "sinc", "pulse"

// exp(-q / 2)
Tensor bivariate_gaussian(int64_t k, double sigma_x, double sigma_y, double theta);
// exp(-q^beta / 2); beta = 1 is the Gaussian, beta < 1 has heavier tails, beta > 1 a flatter top
Tensor bivariate_generalized_gaussian(int64_t k, double sigma_x, double sigma_y, double theta, double beta);
// 1 / (1 + q^beta)
Tensor bivariate_plateau(int64_t k, double sigma_x, double sigma_y, double theta, double beta);
// The 2-D ideal low-pass (circularly symmetric sinc) with cutoff omega_c (radians, pi = Nyquist):
// omega_c J1(omega_c r) / (2 pi r) at distance r from the centre, omega_c^2 / (4 pi) at the centre,
// normalised; zero-padded to pad_to x pad_to when pad_to > k.
Tensor circular_lowpass_kernel(double omega_c, int64_t k, int64_t pad_to = 0);
// A kernel zero-padded on all sides to size x size (size >= k, size - k even).
Tensor pad_kernel(const Tensor& kernel, int64_t size);
// The size x size identity kernel: 1 in the centre.
Tensor pulse_kernel(int64_t size);

// What was drawn for one kernel, and the kernel it makes.
struct KernelParams {
    KernelFamily family = KernelFamily::pulse;
    int64_t size = 21;  // before padding
    double sigma_x = 0, sigma_y = 0, theta = 0, beta = 1, omega_c = 0;
};
Tensor make_kernel(const KernelParams& p, int64_t pad_to = 0);
std::string describe(const KernelParams& p);  // "aniso 13x13 sigma 1.20,0.43 theta 0.52"

// BasicSR's random_mixed_kernels (no multiplicative noise): a family by kernel_prob (the six
// families in KernelFamily order), sigma_x (and for aniso sigma_y, theta in [-pi, pi)) uniform in
// sigma_range, beta with probability 0.5 uniform(beta_lo, 1) else uniform(1, beta_hi). Draw order:
// family, sigma_x, [sigma_y, theta], [coin, beta].
Tensor random_mixed_kernel(const std::vector<double>& kernel_prob, int64_t k, std::array<double, 2> sigma_range,
                           std::array<double, 2> betag_range, std::array<double, 2> betap_range, Rng& rng,
                           KernelParams* drawn = nullptr);

// The three kernels of one sample as RealESRGANDataset.__getitem__ draws them: for kernel1 and then
// kernel2 a size uniform over 7, 9, ..., 21, then with sinc_prob a sinc (omega_c uniform in
// [pi/3, pi) for sizes below 13, else [pi/5, pi)), otherwise random_mixed_kernel; zero-padded to
// 21x21. Then the final sinc with final_sinc_prob (size, omega_c in [pi/3, pi), padded to 21), else
// the 21x21 pulse (no size or omega_c drawn).
struct SampleKernels {
    Tensor kernel1, kernel2, sinc;  // each F64 [21, 21]
    KernelParams params1, params2, params_sinc;
};
SampleKernels random_sample_kernels(const DegradeOptions& o, Rng& rng);

// ---- image operations (F32 CPU [N, C, H, W]; results contiguous F32) ---------------------------

// Correlation of every channel of image n with kernels[n] ([N, k, k], or one [k, k] / [1, k, k] for
// all), after reflect padding by k/2 (PyTorch's 'reflect': ... 2 1 | 0 1 2 ... n-1 | n-2 ...):
// BasicSR's filter2D, i.e. F.conv2d. Odd k. Kernels F32 or F64 (rounded to float).
Tensor filter2d(const Tensor& images, const Tensor& kernels);

// BasicSR's USMSharp: blur = 51x51 Gaussian blur (cv2.getGaussianKernel(51, 0): sigma 8), residual
// r = img - blur, mask = |r| * 255 > threshold, soft = the mask blurred the same way;
// out = soft * clip(img + weight r, 0, 1) + (1 - soft) * img. The blur is computed separably.
Tensor usm_sharp(const Tensor& images, double weight = 0.5, double threshold = 10);

// PyTorch's F.interpolate, align_corners=False, no antialiasing, for mode "area" (adaptive average
// pooling), "bilinear" and "bicubic" (Keys' cubic with A = -0.75, border indices clamped).
// With scale_h > 0 (scale_w likewise) it behaves as F.interpolate(scale_factor=...) does: out_h <= 0
// means floor(H * scale_h), and the source coordinate of output row i is (i + 0.5) / scale_h - 0.5
// rather than (i + 0.5) H / out_h - 0.5 ("area" uses the size only). Weights are computed in float,
// in PyTorch's order.
Tensor interpolate(const Tensor& images, int64_t out_h, int64_t out_w, const std::string& mode, double scale_h = 0,
                   double scale_w = 0);

// images + Gaussian noise of standard deviation sigma[n] / 255 (sigma in 8-bit units), one field per
// channel, or with gray[n] one H x W field added to every channel; then clipped to [0, 1].
// Image n reserves ceil(C H W / 2) counters of rng; value j of image n comes from its counter j / 2
// (the Box-Muller pair: cos for even j, sin for odd j; the logarithm and the angle in float).
Tensor add_gaussian_noise(const Tensor& images, const std::vector<double>& sigma, const std::vector<bool>& gray, Rng& rng);

// BasicSR's generate_poisson_noise_pt, then clipped: the image (or with gray[n] its luma
// 0.2989 R + 0.587 G + 0.114 B, torchvision's rgb_to_grayscale, needing C = 3) is rounded to 8 bits,
// q; vals = 2^ceil(log2(number of distinct values of q in image n)); noise = Poisson(q vals) / vals - q,
// times scale[n]; out = clip(images + noise, 0, 1). Image n reserves C H W counters of rng (value j
// uses counter j, see poisson_at).
Tensor add_poisson_noise(const Tensor& images, const std::vector<double>& scale, const std::vector<bool>& gray, Rng& rng);

// A real JPEG round trip per image (C = 1 or 3): clamp to [0, 1], round to 8 bits, encode with
// stb_image_write at quality round(quality[n]) in [1, 100] (4:2:0 chroma up to quality 90, 4:4:4
// above), decode with stb_image, / 255.
Tensor jpeg(const Tensor& images, const std::vector<double>& quality);

// ---- the batch --------------------------------------------------------------------------------

// A resize as drawn: direction "up" | "down" | "keep" (or "to size" for the last one), the factor,
// the mode, and the size it gave.
struct ResizeDraw {
    std::string direction, mode;
    double scale = 1;
    int64_t out_h = 0, out_w = 0;
};

// Everything degrade_batch drew, for logging and for tools/sr_degrade.
struct DegradeRecord {
    // Batch-level.
    ResizeDraw resize1, resize2, resize_final;
    bool gaussian1 = true, gaussian2 = true;  // else Poisson
    bool second_blur = true;
    bool sinc_before_jpeg = true;             // [resize + sinc] then JPEG; else JPEG then [resize + sinc]
    int64_t crop_top = 0, crop_left = 0;      // in LQ pixels (0 without a crop)
    // Per image.
    std::vector<SampleKernels> kernels;
    std::vector<double> noise1, noise2;       // sigma (8-bit units) or Poisson scale
    std::vector<bool> gray1, gray2;
    std::vector<double> jpeg1, jpeg2;         // qualities as drawn (rounded when used)
};
// Several lines describing what happened to image `sample` of the batch.
std::string describe(const DegradeRecord& r, size_t sample);

struct DegradedBatch {
    Tensor lq, gt, gt_usm;  // [N, 3, H/s, W/s] (8-bit values), [N, 3, H, W], [N, 3, H, W]; cropped with gt_size
    DegradeRecord record;
};

// RealESRGANModel.feed_data for one batch of GT crops [N, 3, H, W] (F32 CPU in [0, 1], H and W
// multiples of o.scale), as described at the top. gt_size > 0 (a multiple of o.scale, at most H and W):
// then one paired random crop for the whole batch, as basicsr's paired_random_crop (gt and gt_usm
// gt_size square, lq gt_size / scale, aligned). Real-ESRGAN then passes (lq, gt) through the pair pool
// and computes gt_usm again from the pool's gt.
DegradedBatch degrade_batch(const Tensor& gt, const DegradeOptions& o, uint64_t seed, int64_t iteration,
                            int64_t gt_size = 0);

// ---- the training-pair pool ----------------------------------------------------------------

// Real-ESRGAN's _dequeue_and_enqueue (queue_size 180), which mixes degradations across batches
// (within one batch all images share a resize and a noise type). While filling, each incoming batch
// is stored and returned unchanged. Once full, the pool is shuffled with a random permutation (stream
// `iteration` of key seed ^ kPoolKey, Fisher-Yates), its first b pairs are returned (copies) and
// replaced by the incoming ones.
//
// The pool keeps its pairs in place and shuffles an order of slots (logical position j holds slot
// order[j]), which is the same as moving the pairs, without copying 180 images per step.
class PairPool {
public:
    explicit PairPool(int64_t size);
    // lq [b, C, h, w], gt [b, C, H, W], F32 CPU; b divides the pool size; shapes fixed by the first call.
    std::pair<Tensor, Tensor> exchange(const Tensor& lq, const Tensor& gt, uint64_t seed, int64_t iteration);

    int64_t size() const { return size_; }
    int64_t filled() const { return filled_; }
    // For checkpoints (bit-exact resume): "fill" (F64 [1]: pairs stored so far), and once the first
    // batch arrived "lq", "gt" (F32 [size, ...], by slot) and "order" (F64 [size]: the slot at each
    // position). A checkpoint would prefix the names ("pool.lq", ...).
    NamedTensors state() const;
    void load_state(const NamedTensors& state);

private:
    int64_t size_, filled_ = 0;
    Tensor lq_, gt_;
    std::vector<int64_t> order_;
};

}  // namespace sr
