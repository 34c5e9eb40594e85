#include "train/trainer.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <omp.h>
#include <sstream>
#include <unistd.h>

#include "autograd/backward.h"
#include "core/factory.h"
#include "core/file.h"
#include "core/gpu.h"
#include "core/image_io.h"
#include "models/spec.h"
#include "models/upscale.h"
#include "ops/elementwise.h"
#include "ops/gan_loss.h"
#include "ops/reduce.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/data.h"
#include "train/ema.h"
#include "train/imresize.h"
#include "train/losses.h"
#include "train/metrics.h"
#include "train/optim.h"
#include "train/pairs.h"
#include "train/plot.h"

namespace sr {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> interrupt_requested{false};

// The first Ctrl-C asks for a checkpoint and a clean stop; a second one ends the process at once.
void on_interrupt(int) {
    interrupt_requested = true;
    std::signal(SIGINT, SIG_DFL);
}

struct Scores {
    double psnr_y = 0, ssim_y = 0, psnr_rgb = 0;
};

struct ValImage {
    std::string name;
    Tensor lr, hr;  // [3, h, w], [3, h s, w s] in [0, 1]
};

Scores score(const Tensor& sr, const Tensor& hr, int64_t scale) {
    const ImageScores s = score_image(sr, hr, scale);  // as the saved 8-bit PNG would score
    return {s.psnr_y, s.ssim_y, s.psnr_rgb};
}

Scores mean_scores(const std::vector<Scores>& all) {
    Scores m;
    for (const Scores& s : all) {
        m.psnr_y += s.psnr_y / double(all.size());
        m.ssim_y += s.ssim_y / double(all.size());
        m.psnr_rgb += s.psnr_rgb / double(all.size());
    }
    return m;
}

// metrics.csv: one row per print interval (mean loss) and per validation.
class MetricsLog {
public:
    MetricsLog(const std::string& path, const std::vector<std::string>& terms, int64_t resume_iter) : path_(path) {
        header_ = "iter,loss";
        for (const std::string& t : terms) header_ += "," + t;
        header_ += ",lr,psnr_y,ssim_y,psnr_rgb,time_s";
        // On resume keep the rows up to the checkpoint's iteration (later ones are redone).
        std::string kept;
        if (resume_iter > 0 && fs::exists(path)) {
            std::ifstream in(path);
            std::string line;
            std::getline(in, line);
            while (std::getline(in, line)) {
                if (line.empty()) continue;
                if (std::stoll(line.substr(0, line.find(','))) <= resume_iter) {
                    kept += line + "\n";
                    rows_.push_back(line);
                }
            }
        }
        write_file_atomic(path_, header_ + "\n" + kept);
    }
    void add(const std::string& row) {
        rows_.push_back(row);
        std::ofstream(path_, std::ios::app) << row << "\n";
    }
    const std::vector<std::string>& rows() const { return rows_; }

private:
    std::string path_, header_;
    std::vector<std::string> rows_;
};

std::vector<double> split_csv(const std::string& row) {
    std::vector<double> v;
    std::stringstream ss(row);
    for (std::string cell; std::getline(ss, cell, ',');) v.push_back(cell.empty() ? NAN : std::strtod(cell.c_str(), nullptr));
    return v;
}

// curves.png: training loss and validation PSNR-Y against the iteration; for GAN training also
// the discriminator's losses and its mean logits on real and generated images.
void draw_curves(const std::string& path, const MetricsLog& log, const std::vector<std::string>& parts, double bicubic_psnr) {
    const uint32_t palette[] = {0xff7f0e, 0x2ca02c, 0x9467bd, 0x8c564b, 0xe377c2, 0x17becf, 0xbcbd22, 0x7f7f7f};
    Series loss{"loss (interval mean)", {}, {}, 0x1f77b4}, psnr{"model (PSNR-Y)", {}, {}, 0xd62728};
    std::vector<Series> part_series;
    for (size_t i = 0; i < parts.size(); ++i) part_series.push_back({parts[i], {}, {}, palette[i % 8]});
    for (const std::string& row : log.rows()) {
        const std::vector<double> v = split_csv(row);
        if (v.size() < 3 + parts.size() + 3) continue;
        if (!std::isnan(v[1])) {
            loss.x.push_back(v[0]);
            loss.y.push_back(v[1]);
        }
        for (size_t i = 0; i < parts.size(); ++i)
            if (!std::isnan(v[2 + i])) {
                part_series[i].x.push_back(v[0]);
                part_series[i].y.push_back(v[2 + i]);
            }
        const double p = v[3 + parts.size()];
        if (!std::isnan(p)) {
            psnr.x.push_back(v[0]);
            psnr.y.push_back(p);
        }
    }
    Series base{"bicubic", {}, {}, 0x555555, true};
    if (!psnr.x.empty()) {
        base.x = {0, std::max(psnr.x.back(), loss.x.empty() ? 1.0 : loss.x.back())};
        base.y = {bicubic_psnr, bicubic_psnr};
    }
    Chart losses{"Training loss", "iteration", "loss", {loss}, true};
    Chart disc{"Discriminator", "iteration", "loss", {}, false}, logits{"Discriminator logits (mean)", "iteration", "logit", {}, false};
    for (const Series& s : part_series) {
        if (s.label.rfind("out_d_", 0) == 0) logits.series.push_back(s);
        else if (s.label.rfind("l_d_", 0) == 0) disc.series.push_back(s);
        else if (s.label != "l_g_pix" || parts.size() > 1) losses.series.push_back(s);
    }
    std::vector<Chart> charts = {losses, {"Validation PSNR-Y", "iteration", "dB", {psnr, base}, false}};
    if (!disc.series.empty()) charts.push_back(disc);
    if (!logits.series.empty()) charts.push_back(logits);
    write_png(path, draw_charts(charts));
}

// samples/iter_N.png: for the first validation images, a crop as bicubic | SR | HR.
void draw_samples(const std::string& path, const std::vector<ValImage>& images, const std::vector<Tensor>& srs,
                  const std::vector<Tensor>& bicubics, int64_t scale) {
    std::vector<std::vector<Tensor>> rows;
    const int64_t hr_crop = 192;
    for (size_t i = 0; i < images.size() && i < 3; ++i) {
        const int64_t H = images[i].hr.size(1), W = images[i].hr.size(2);
        const int64_t c = std::min({hr_crop / scale * scale, H / scale * scale, W / scale * scale});
        const int64_t y = (H - c) / 2 / scale * scale, x = (W - c) / 2 / scale * scale;
        auto cut = [&](const Tensor& t) { return t.slice(1, y, y + c).slice(2, x, x + c).contiguous(); };
        rows.push_back({cut(quantize_u8(bicubics[i])), cut(quantize_u8(srs[i])), cut(images[i].hr)});
    }
    write_png(path, image_grid(rows, {"bicubic", "SR", "HR"}));
}

// Training batches on the training device. On a GPU the batch of the next iteration is copied
// (from page-locked memory, on the copy stream) while the current step computes.
class DeviceBatches {
public:
    DeviceBatches(TrainData& data, Device device) : data_(data), device_(device) {}
    ~DeviceBatches() {
        for (Slot& s : slots_) {
            if (s.lr_ticket >= 0) gpu::wait_on_host(s.lr_ticket, device_.index);
            if (s.hr_ticket >= 0) gpu::wait_on_host(s.hr_ticket, device_.index);
            gpu::release_pinned(s.lr_host);
            gpu::release_pinned(s.hr_host);
        }
    }
    DeviceBatches(const DeviceBatches&) = delete;
    DeviceBatches& operator=(const DeviceBatches&) = delete;

    // The batch of `iter` (asked for in order), and when `more`, the next one set going.
    std::pair<Tensor, Tensor> take(int64_t iter, bool more) {
        if (device_.is_cpu()) return data_.batch(iter);
        if (next_ != iter) start(iter);
        Slot& s = slots_[iter % 2];
        gpu::wait_on_device(s.lr_ticket, device_.index);
        gpu::wait_on_device(s.hr_ticket, device_.index);
        std::pair<Tensor, Tensor> batch{s.lr, s.hr};
        if (more) start(iter + 1);
        return batch;
    }

private:
    struct Slot {
        float* lr_host = nullptr;
        float* hr_host = nullptr;
        Tensor lr, hr;
        int64_t lr_ticket = -1, hr_ticket = -1;
    };

    void start(int64_t iter) {
        const auto [lr, hr] = data_.batch(iter);
        Slot& s = slots_[iter % 2];
        // The copy that last read this slot's page-locked buffers must be done before they change.
        if (s.lr_ticket >= 0) gpu::wait_on_host(s.lr_ticket, device_.index);
        if (s.hr_ticket >= 0) gpu::wait_on_host(s.hr_ticket, device_.index);
        if (!s.lr_host) {
            s.lr_host = static_cast<float*>(gpu::allocate_pinned(size_t(lr.numel()) * sizeof(float)));
            s.hr_host = static_cast<float*>(gpu::allocate_pinned(size_t(hr.numel()) * sizeof(float)));
        }
        std::memcpy(s.lr_host, lr.data<float>(), size_t(lr.numel()) * sizeof(float));
        std::memcpy(s.hr_host, hr.data<float>(), size_t(hr.numel()) * sizeof(float));
        s.lr = Tensor::empty(lr.shape(), DType::F32, device_);
        s.hr = Tensor::empty(hr.shape(), DType::F32, device_);
        s.lr_ticket = gpu::copy_async(s.lr.raw_data(), s.lr_host, size_t(lr.numel()) * sizeof(float), device_.index);
        s.hr_ticket = gpu::copy_async(s.hr.raw_data(), s.hr_host, size_t(hr.numel()) * sizeof(float), device_.index);
        next_ = iter + 1;
    }

    TrainData& data_;
    Device device_;
    Slot slots_[2];
    int64_t next_ = -1;  // the iteration after the last one started
};

std::string fixed(double v, int digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string duration(double seconds) {
    const int64_t s = std::max<int64_t>(0, std::llround(seconds));
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    return buf;
}

// Scales all gradients so that their joint L2 norm is at most max_norm (as clip_grad_norm_).
void clip_gradients(const std::vector<Tensor>& params, double max_norm) {
    NoGradGuard no_grad;
    Tensor total;  // summed on the device, read once
    for (const Tensor& p : params)
        if (p.grad().defined()) total = total.defined() ? total + sum(p.grad() * p.grad()) : sum(p.grad() * p.grad());
    if (!total.defined()) return;
    const double norm = std::sqrt(total.item());
    if (norm <= max_norm) return;
    const double factor = max_norm / (norm + 1e-6);
    for (const Tensor& p : params)
        if (p.grad().defined()) p.set_grad(p.grad() * factor);
}

}  // namespace

void install_interrupt_handler() { std::signal(SIGINT, on_interrupt); }

namespace {

// BasicSR's model_type of a run: which losses and which data it trains with.
std::string model_type_of(const TrainOptions& o) {
    if (o.synthetic) return o.model_d.empty() ? "RealESRNetModel" : "RealESRGANModel";
    if (o.model_d.empty()) return "SRModel";
    return o.relativistic ? "ESRGANModel" : "SRGANModel";
}

const std::vector<std::string> kernel_names = {"iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"};

}  // namespace

std::string options_yaml(const TrainOptions& o) {
    std::ostringstream y;
    y.precision(12);
    auto list = [](const auto& v) {
        std::ostringstream s;
        s.precision(12);
        s << "[";
        for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
        s << "]";
        return s.str();
    };
    y << "# written by train_sr: the options this run used (train_sr --config reads it back)\n";
    y << "name: " << o.name << "\n";
    y << "model_type: " << model_type_of(o) << "\n";
    y << "model: \"" << o.model << "\"\n";
    if (!o.model_d.empty()) y << "model_d: \"" << o.model_d << "\"\n";
    y << "scale: " << o.scale << "\n";
    y << "manual_seed: " << o.seed << "\n";
    y << "datasets:\n  train:\n    dataroot: \"" << o.data << "\"\n    split: " << o.train_split << "\n";
    y << "    gt_size: " << o.patch * o.scale << "\n    use_hflip: " << (o.hflip ? "true" : "false")
      << "\n    use_rot: " << (o.rotation ? "true" : "false") << "\n    batch_size_per_gpu: " << o.batch
      << "\n    num_worker_per_gpu: " << o.workers << "\n    cache_mb: " << o.cache_mb << "\n";
    if (o.synthetic) {
        const DegradeOptions& d = o.degradation;
        y << "    crop_pad_size: " << o.crop_pad_size << "\n    blur_kernel_size: 21\n    kernel_list: " << list(kernel_names)
          << "\n    kernel_prob: " << list(d.kernel_prob) << "\n    sinc_prob: " << d.sinc_prob << "\n    blur_sigma: "
          << list(d.blur_sigma) << "\n    betag_range: " << list(d.betag_range) << "\n    betap_range: " << list(d.betap_range)
          << "\n    blur_kernel_size2: 21\n    kernel_list2: " << list(kernel_names) << "\n    kernel_prob2: " << list(d.kernel_prob2)
          << "\n    sinc_prob2: " << d.sinc_prob2 << "\n    blur_sigma2: " << list(d.blur_sigma2) << "\n    betag_range2: "
          << list(d.betag_range2) << "\n    betap_range2: " << list(d.betap_range2) << "\n    final_sinc_prob: " << d.final_sinc_prob
          << "\n";
    }
    y << "  val:\n    dataroot: \"" << o.val_data << "\"\n    split: " << o.val_split << "\n    max_images: " << o.val_images
      << "\n    tile: " << o.val_tile << "\n";
    y << "train:\n  total_iter: " << o.total_iter << "\n  warmup_iter: " << o.schedule.warmup_iter << "\n";
    y << "  ema_decay: " << o.ema_decay << "\n  grad_clip: " << o.grad_clip << "\n";
    y << "  optim_g:\n    type: " << o.optimizer << "\n    lr: " << o.schedule.base << "\n    weight_decay: " << o.weight_decay
      << "\n    betas: [" << o.beta1 << ", " << o.beta2 << "]\n";
    y << "  scheduler:\n    type: " << o.schedule.type << "\n";
    if (o.schedule.type == "MultiStepLR")
        y << "    milestones: " << list(o.schedule.milestones) << "\n    gamma: " << o.schedule.gamma << "\n";
    if (o.schedule.type == "CosineAnnealingRestartLR")
        y << "    periods: " << list(o.schedule.periods) << "\n    restart_weights: " << list(o.schedule.restart_weights)
          << "\n    eta_min: " << o.schedule.eta_min << "\n";
    y << "  pixel_opt: \"" << o.loss << "\"\n";
    if (!o.model_d.empty()) {
        y << "  optim_d:\n    type: Adam\n    lr: " << o.lr_d << "\n    betas: [" << o.beta1 << ", " << o.beta2 << "]\n";
        if (o.perceptual) {
            const PerceptualOptions& p = o.perceptual_opt;
            y << "  perceptual_opt:\n    type: PerceptualLoss\n    layer_weights:\n";
            for (const auto& [layer, w] : p.layer_weights) y << "      " << layer << ": " << w << "\n";
            y << "    vgg_type: vgg19\n    use_input_norm: " << (p.use_input_norm ? "true" : "false")
              << "\n    range_norm: " << (p.range_norm ? "true" : "false") << "\n    perceptual_weight: " << p.perceptual_weight
              << "\n    style_weight: " << p.style_weight << "\n    criterion: " << p.criterion << "\n    pretrained: \""
              << p.pretrained << "\"\n";
        }
        y << "  gan_opt:\n    type: GANLoss\n    gan_type: " << o.gan_type << "\n    loss_weight: " << o.gan_weight << "\n";
        y << "  net_d_iters: " << o.net_d_iters << "\n  net_d_init_iters: " << o.net_d_init_iters << "\n";
    }
    y << "val:\n  val_freq: " << o.val_freq << "\n";
    y << "logger:\n  print_freq: " << o.print_freq << "\n  save_checkpoint_freq: " << o.save_freq << "\n";
    if (o.synthetic) {
        const DegradeOptions& d = o.degradation;
        y << "# Real-ESRGAN's synthetic degradations (train/degrade.h)\n";
        y << "l1_gt_usm: " << (o.l1_gt_usm ? "true" : "false") << "\npercep_gt_usm: " << (o.percep_gt_usm ? "true" : "false")
          << "\ngan_gt_usm: " << (o.gan_gt_usm ? "true" : "false") << "\n";
        y << "resize_prob: " << list(d.resize_prob) << "\nresize_range: " << list(d.resize_range)
          << "\ngaussian_noise_prob: " << d.gaussian_noise_prob << "\nnoise_range: " << list(d.noise_range)
          << "\npoisson_scale_range: " << list(d.poisson_scale_range) << "\ngray_noise_prob: " << d.gray_noise_prob
          << "\njpeg_range: " << list(d.jpeg_range) << "\n";
        y << "second_blur_prob: " << d.second_blur_prob << "\nresize_prob2: " << list(d.resize_prob2)
          << "\nresize_range2: " << list(d.resize_range2) << "\ngaussian_noise_prob2: " << d.gaussian_noise_prob2
          << "\nnoise_range2: " << list(d.noise_range2) << "\npoisson_scale_range2: " << list(d.poisson_scale_range2)
          << "\ngray_noise_prob2: " << d.gray_noise_prob2 << "\njpeg_range2: " << list(d.jpeg_range2) << "\n";
        y << "queue_size: " << o.queue_size << "\n";
    }
    y << "path:\n  out_dir: \"" << o.out_dir << "\"\n  pretrain_network_g: \"" << o.pretrain_g << "\"\n";
    y << "device: " << (o.device.is_cpu() ? "cpu" : "cuda") << "\nprecision: " << o.precision << "\nthreads: " << o.threads << "\n";
    return y.str();
}

namespace {

// Every key a config file may hold (network_g takes any of the model's own arguments).
const std::set<std::string> known_keys = {
    "name", "model_type", "model", "model_d", "scale", "manual_seed", "device", "precision", "threads",
    "datasets.train.dataroot", "datasets.train.split", "datasets.train.gt_size", "datasets.train.use_hflip",
    "datasets.train.use_rot", "datasets.train.batch_size_per_gpu", "datasets.train.num_worker_per_gpu",
    "datasets.train.cache_mb", "datasets.val.dataroot", "datasets.val.split", "datasets.val.max_images",
    "datasets.val.tile", "train.total_iter", "train.warmup_iter", "train.ema_decay", "train.grad_clip",
    "train.optim_g.type", "train.optim_g.lr", "train.optim_g.weight_decay", "train.optim_g.betas",
    "train.scheduler.type", "train.scheduler.milestones", "train.scheduler.gamma", "train.scheduler.periods",
    "train.scheduler.restart_weights", "train.scheduler.eta_min", "train.pixel_opt", "train.pixel_opt.type",
    "train.pixel_opt.loss_weight", "train.pixel_opt.reduction", "val.val_freq", "logger.print_freq",
    "logger.save_checkpoint_freq", "path.out_dir", "path.pretrain_network_g", "path.strict_load_g",
    "train.optim_d.type", "train.optim_d.lr", "train.optim_d.weight_decay", "train.optim_d.betas",
    "train.perceptual_opt.type", "train.perceptual_opt.vgg_type", "train.perceptual_opt.use_input_norm",
    "train.perceptual_opt.range_norm", "train.perceptual_opt.perceptual_weight", "train.perceptual_opt.style_weight",
    "train.perceptual_opt.criterion", "train.perceptual_opt.pretrained", "train.gan_opt.type", "train.gan_opt.gan_type",
    "train.gan_opt.real_label_val", "train.gan_opt.fake_label_val", "train.gan_opt.loss_weight", "train.net_d_iters",
    "train.net_d_init_iters",
    // Real-ESRGAN's degradations: top level as in its options files, kernels under datasets.train.
    "l1_gt_usm", "percep_gt_usm", "gan_gt_usm", "gt_usm", "resize_prob", "resize_range", "gaussian_noise_prob", "noise_range",
    "poisson_scale_range", "gray_noise_prob", "jpeg_range", "second_blur_prob", "resize_prob2", "resize_range2",
    "gaussian_noise_prob2", "noise_range2", "poisson_scale_range2", "gray_noise_prob2", "jpeg_range2", "gt_size", "queue_size",
    "datasets.train.crop_pad_size", "datasets.train.blur_kernel_size", "datasets.train.kernel_list", "datasets.train.kernel_prob",
    "datasets.train.sinc_prob", "datasets.train.blur_sigma", "datasets.train.betag_range", "datasets.train.betap_range",
    "datasets.train.blur_kernel_size2", "datasets.train.kernel_list2", "datasets.train.kernel_prob2", "datasets.train.sinc_prob2",
    "datasets.train.blur_sigma2", "datasets.train.betag_range2", "datasets.train.betap_range2", "datasets.train.final_sinc_prob"};

// Mappings whose keys are free: the networks' arguments and the perceptual loss's layers.
bool free_mapping(const std::string& path) {
    return path == "network_g" || path == "network_d" || path == "train.perceptual_opt.layer_weights";
}

void check_keys(const Json& node, const std::string& prefix, const std::string& what) {
    for (const auto& [key, value] : node.members) {
        const std::string path = prefix.empty() ? key : prefix + "." + key;
        if (free_mapping(path)) continue;
        if (value.is(Json::Kind::Object)) check_keys(value, path, what);
        else if (!known_keys.count(path))
            fail(what, ": unknown option '", path, "' (docs/TRAINING.md lists the options)");
    }
}

template <typename T>
std::vector<T> config_list(const Json& root, const std::string& path, const std::vector<T>& fallback) {
    const Json* node = config_find(root, path);
    if (!node || node->is(Json::Kind::Null)) return fallback;
    SR_CHECK(node->is(Json::Kind::Array), "config: ", path, " must be a list like [1, 2]");
    std::vector<T> out;
    for (const Json& item : node->items) {
        SR_CHECK(item.is(Json::Kind::Number), "config: ", path, " must hold numbers");
        out.push_back(T(item.number));
    }
    return out;
}

int64_t config_integer(const Json& root, const std::string& path, int64_t fallback) {
    const double v = config_number(root, path, double(fallback));
    SR_CHECK(v == std::floor(v) && std::fabs(v) < 9e15, "config: ", path, " must be an integer, got ", v);
    return int64_t(v);
}

// network_g: {type: EDSR, num_feat: 64, ...} -> "edsr:num_feat=64,..." (lists joined by '/').
std::string model_spec_from(const Json& network) {
    SR_CHECK(network.is(Json::Kind::Object), "config: network_g must be a mapping with a type");
    const Json* type = network.find("type");
    SR_CHECK(type && type->is(Json::Kind::String), "config: network_g needs a type (e.g. EDSR)");
    std::string name = type->text;
    for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
    // BasicSR's class names of the discriminators.
    if (name == "vggstylediscriminator") name = "vgg_discriminator";
    if (name == "unetdiscriminatorsn") name = "unet_discriminator_sn";
    std::string spec = name + ":";
    bool first = true;
    for (const auto& [key, value] : network.members) {
        if (key == "type") continue;
        std::string text;
        if (value.is(Json::Kind::Array)) {
            for (size_t i = 0; i < value.items.size(); ++i) text += (i ? "/" : "") + value.items[i].text;
        } else if (value.is(Json::Kind::Bool)) {
            text = value.boolean ? "true" : "false";
        } else {
            text = value.text;
        }
        spec += (first ? "" : ",") + key + "=" + text;
        first = false;
    }
    return spec;
}

}  // namespace

TrainOptions options_from_config(const Json& c, const std::string& what, TrainOptions o) {
    SR_CHECK(c.is(Json::Kind::Object), what, ": a config is a mapping of options");
    check_keys(c, "", what);
    o.name = config_text(c, "name", o.name);
    o.scale = config_integer(c, "scale", o.scale);
    if (const Json* network = config_find(c, "network_g")) {
        SR_CHECK(!config_find(c, "model"), what, ": give either model or network_g, not both");
        o.model = model_spec_from(*network);
    }
    o.model = config_text(c, "model", o.model);
    if (const Json* network = config_find(c, "network_d")) {
        SR_CHECK(!config_find(c, "model_d"), what, ": give either model_d or network_d, not both");
        o.model_d = model_spec_from(*network);
    }
    o.model_d = config_text(c, "model_d", o.model_d);
    const std::string model_type = config_text(c, "model_type", model_type_of(o));
    const std::set<std::string> types = {"SRModel", "SRGANModel", "ESRGANModel", "RealESRNetModel", "RealESRGANModel"};
    SR_CHECK(types.count(model_type), what, ": model_type must be SRModel, SRGANModel, ESRGANModel, RealESRNetModel or RealESRGANModel, got '",
             model_type, "'");
    const bool needs_d = model_type != "SRModel" && model_type != "RealESRNetModel";
    SR_CHECK(needs_d != o.model_d.empty(), what, ": model_type ", model_type,
             needs_d ? " needs a network_d" : " trains no discriminator, but network_d is given");
    o.relativistic = model_type == "ESRGANModel";
    o.synthetic = model_type == "RealESRNetModel" || model_type == "RealESRGANModel";
    o.seed = uint64_t(config_integer(c, "manual_seed", int64_t(o.seed)));
    o.device = Device::parse(config_text(c, "device", o.device.is_cpu() ? "cpu" : "cuda"));
    o.threads = int(config_integer(c, "threads", o.threads));
    o.precision = config_text(c, "precision", o.precision);

    o.data = config_text(c, "datasets.train.dataroot", o.data);
    o.val_data = config_text(c, "datasets.val.dataroot", o.val_data);
    o.train_split = config_text(c, "datasets.train.split", o.train_split);
    const int64_t gt_size = config_integer(c, "datasets.train.gt_size", o.patch * o.scale);
    SR_CHECK(o.scale >= 1 && gt_size % o.scale == 0, what, ": gt_size ", gt_size, " is not a multiple of the scale ", o.scale);
    o.patch = gt_size / o.scale;
    o.hflip = config_flag(c, "datasets.train.use_hflip", o.hflip);
    o.rotation = config_flag(c, "datasets.train.use_rot", o.rotation);
    o.batch = config_integer(c, "datasets.train.batch_size_per_gpu", o.batch);
    o.workers = int(config_integer(c, "datasets.train.num_worker_per_gpu", o.workers));
    o.cache_mb = config_integer(c, "datasets.train.cache_mb", o.cache_mb);
    o.val_split = config_text(c, "datasets.val.split", o.val_split);
    o.val_images = config_integer(c, "datasets.val.max_images", o.val_images);
    o.val_tile = config_integer(c, "datasets.val.tile", o.val_tile);

    o.total_iter = config_integer(c, "train.total_iter", o.total_iter);
    o.schedule.warmup_iter = config_integer(c, "train.warmup_iter", o.schedule.warmup_iter);
    o.ema_decay = config_number(c, "train.ema_decay", o.ema_decay);
    o.grad_clip = config_number(c, "train.grad_clip", o.grad_clip);
    o.optimizer = config_text(c, "train.optim_g.type", o.optimizer);
    o.schedule.base = config_number(c, "train.optim_g.lr", o.schedule.base);
    o.weight_decay = config_number(c, "train.optim_g.weight_decay", o.weight_decay);
    const std::vector<double> betas = config_list<double>(c, "train.optim_g.betas", {o.beta1, o.beta2});
    SR_CHECK(betas.size() == 2, what, ": train.optim_g.betas must be two numbers");
    o.beta1 = betas[0];
    o.beta2 = betas[1];
    o.schedule.type = config_text(c, "train.scheduler.type", o.schedule.type);
    o.schedule.milestones = config_list<int64_t>(c, "train.scheduler.milestones", o.schedule.milestones);
    o.schedule.gamma = config_number(c, "train.scheduler.gamma", o.schedule.gamma);
    o.schedule.periods = config_list<int64_t>(c, "train.scheduler.periods", o.schedule.periods);
    o.schedule.restart_weights = config_list<double>(c, "train.scheduler.restart_weights", o.schedule.restart_weights);
    o.schedule.eta_min = config_number(c, "train.scheduler.eta_min", o.schedule.eta_min);
    if (const Json* pixel = config_find(c, "train.pixel_opt"); pixel && pixel->is(Json::Kind::Object)) {
        // BasicSR's form: {type: L1Loss, loss_weight: 1.0, reduction: mean}.
        const std::string type = config_text(c, "train.pixel_opt.type", "L1Loss");
        const std::string reduction = config_text(c, "train.pixel_opt.reduction", "mean");
        SR_CHECK(reduction == "mean", what, ": train.pixel_opt.reduction must be mean");
        const std::map<std::string, std::string> names = {{"L1Loss", "l1"}, {"MSELoss", "mse"}, {"CharbonnierLoss", "charbonnier"}};
        SR_CHECK(names.count(type), what, ": train.pixel_opt.type must be L1Loss, MSELoss or CharbonnierLoss, got '", type, "'");
        std::ostringstream spec;
        spec << names.at(type) << ":" << config_number(c, "train.pixel_opt.loss_weight", 1.0);
        o.loss = spec.str();
    } else {
        o.loss = config_text(c, "train.pixel_opt", o.loss);
    }
    o.val_freq = config_integer(c, "val.val_freq", o.val_freq);
    o.print_freq = config_integer(c, "logger.print_freq", o.print_freq);
    o.save_freq = config_integer(c, "logger.save_checkpoint_freq", o.save_freq);
    o.out_dir = config_text(c, "path.out_dir", o.out_dir);
    o.pretrain_g = config_text(c, "path.pretrain_network_g", o.pretrain_g);
    SR_CHECK(config_flag(c, "path.strict_load_g", true), what, ": path.strict_load_g must be true (weights load strictly)");

    // GAN training (BasicSR's optim_d, perceptual_opt, gan_opt).
    SR_CHECK(config_text(c, "train.optim_d.type", "Adam") == "Adam", what, ": train.optim_d.type must be Adam");
    SR_CHECK(config_number(c, "train.optim_d.weight_decay", 0) == 0, what, ": train.optim_d.weight_decay must be 0");
    SR_CHECK(config_list<double>(c, "train.optim_d.betas", {o.beta1, o.beta2}) == std::vector<double>({o.beta1, o.beta2}), what,
             ": train.optim_d.betas must equal train.optim_g.betas (one pair of betas is used for both)");
    o.lr_d = config_number(c, "train.optim_d.lr", o.lr_d);
    if (config_find(c, "train.perceptual_opt")) {
        o.perceptual = true;
        PerceptualOptions& p = o.perceptual_opt;
        SR_CHECK(config_text(c, "train.perceptual_opt.type", "PerceptualLoss") == "PerceptualLoss" &&
                     config_text(c, "train.perceptual_opt.vgg_type", "vgg19") == "vgg19",
                 what, ": train.perceptual_opt must be a PerceptualLoss on vgg19");
        if (const Json* layers = config_find(c, "train.perceptual_opt.layer_weights")) {
            SR_CHECK(layers->is(Json::Kind::Object) && !layers->members.empty(), what,
                     ": train.perceptual_opt.layer_weights must map layers to weights, like {conv5_4: 1}");
            p.layer_weights.clear();
            for (const auto& [layer, w] : layers->members) {
                SR_CHECK(w.is(Json::Kind::Number), what, ": the weight of layer ", layer, " must be a number");
                p.layer_weights[layer] = w.number;
            }
        }
        p.use_input_norm = config_flag(c, "train.perceptual_opt.use_input_norm", p.use_input_norm);
        p.range_norm = config_flag(c, "train.perceptual_opt.range_norm", p.range_norm);
        p.perceptual_weight = config_number(c, "train.perceptual_opt.perceptual_weight", p.perceptual_weight);
        p.style_weight = config_number(c, "train.perceptual_opt.style_weight", p.style_weight);
        p.criterion = config_text(c, "train.perceptual_opt.criterion", p.criterion);
        p.pretrained = config_text(c, "train.perceptual_opt.pretrained", p.pretrained);
    }
    SR_CHECK(config_text(c, "train.gan_opt.type", "GANLoss") == "GANLoss", what, ": train.gan_opt.type must be GANLoss");
    SR_CHECK(config_number(c, "train.gan_opt.real_label_val", 1) == 1 && config_number(c, "train.gan_opt.fake_label_val", 0) == 0,
             what, ": train.gan_opt labels must be 1 (real) and 0 (fake)");
    o.gan_type = config_text(c, "train.gan_opt.gan_type", o.gan_type);
    o.gan_weight = config_number(c, "train.gan_opt.loss_weight", o.gan_weight);
    o.net_d_iters = config_integer(c, "train.net_d_iters", o.net_d_iters);
    o.net_d_init_iters = config_integer(c, "train.net_d_init_iters", o.net_d_init_iters);

    // Real-ESRGAN's degradations.
    if (const Json* g = config_find(c, "gt_size")) {  // Real-ESRGAN's files give it twice
        SR_CHECK(g->is(Json::Kind::Number) && g->number > 0 && std::fmod(g->number, double(o.scale)) == 0, what,
                 ": gt_size must be a multiple of the scale");
        if (!config_find(c, "datasets.train.gt_size")) o.patch = int64_t(g->number) / o.scale;
        SR_CHECK(g->number == double(o.patch * o.scale), what, ": gt_size and datasets.train.gt_size differ");
    }
    auto pair = [&](const std::string& path, std::array<double, 2> v) {
        const std::vector<double> l = config_list<double>(c, path, {v[0], v[1]});
        SR_CHECK(l.size() == 2 && l[0] <= l[1], what, ": ", path, " must be [low, high]");
        return std::array<double, 2>{l[0], l[1]};
    };
    auto triple = [&](const std::string& path, std::array<double, 3> v) {
        const std::vector<double> l = config_list<double>(c, path, {v[0], v[1], v[2]});
        SR_CHECK(l.size() == 3, what, ": ", path, " must be three probabilities [up, down, keep]");
        return std::array<double, 3>{l[0], l[1], l[2]};
    };
    DegradeOptions& d = o.degradation;
    d.scale = o.scale;
    o.l1_gt_usm = config_flag(c, "l1_gt_usm", config_flag(c, "gt_usm", o.l1_gt_usm));
    o.percep_gt_usm = config_flag(c, "percep_gt_usm", o.percep_gt_usm);
    o.gan_gt_usm = config_flag(c, "gan_gt_usm", o.gan_gt_usm);
    // The two degradation stages have the same keys, the second with a "2" suffix.
    auto stage = [&](const std::string& n, std::array<double, 3>& resize_prob, std::array<double, 2>& resize_range,
                     double& gaussian_prob, std::array<double, 2>& noise_range, std::array<double, 2>& poisson_range,
                     double& gray_prob, std::array<double, 2>& jpeg_range) {
        resize_prob = triple("resize_prob" + n, resize_prob);
        resize_range = pair("resize_range" + n, resize_range);
        gaussian_prob = config_number(c, "gaussian_noise_prob" + n, gaussian_prob);
        noise_range = pair("noise_range" + n, noise_range);
        poisson_range = pair("poisson_scale_range" + n, poisson_range);
        gray_prob = config_number(c, "gray_noise_prob" + n, gray_prob);
        jpeg_range = pair("jpeg_range" + n, jpeg_range);
    };
    stage("", d.resize_prob, d.resize_range, d.gaussian_noise_prob, d.noise_range, d.poisson_scale_range, d.gray_noise_prob,
          d.jpeg_range);
    stage("2", d.resize_prob2, d.resize_range2, d.gaussian_noise_prob2, d.noise_range2, d.poisson_scale_range2,
          d.gray_noise_prob2, d.jpeg_range2);
    d.second_blur_prob = config_number(c, "second_blur_prob", d.second_blur_prob);
    o.queue_size = config_integer(c, "queue_size", o.queue_size);
    o.crop_pad_size = config_integer(c, "datasets.train.crop_pad_size", o.crop_pad_size);
    for (const std::string suffix : {"", "2"}) {
        SR_CHECK(config_integer(c, "datasets.train.blur_kernel_size" + suffix, 21) == 21, what, ": datasets.train.blur_kernel_size",
                 suffix, " must be 21 (kernels are 7..21 padded to 21, as Real-ESRGAN's)");
        if (const Json* list = config_find(c, "datasets.train.kernel_list" + suffix)) {
            bool same = list->is(Json::Kind::Array) && list->items.size() == kernel_names.size();
            for (size_t i = 0; same && i < kernel_names.size(); ++i) same = list->items[i].text == kernel_names[i];
            SR_CHECK(same, what, ": datasets.train.kernel_list", suffix,
                     " must list iso, aniso, generalized_iso, generalized_aniso, plateau_iso, plateau_aniso in this order "
                     "(set a family's kernel_prob to 0 to leave it out)");
        }
    }
    auto probs = [&](const std::string& path, const std::vector<double>& v) {
        const std::vector<double> l = config_list<double>(c, path, v);
        SR_CHECK(l.size() == 6, what, ": ", path, " must have six probabilities, one per kernel family");
        return l;
    };
    d.kernel_prob = probs("datasets.train.kernel_prob", d.kernel_prob);
    d.sinc_prob = config_number(c, "datasets.train.sinc_prob", d.sinc_prob);
    d.blur_sigma = pair("datasets.train.blur_sigma", d.blur_sigma);
    d.betag_range = pair("datasets.train.betag_range", d.betag_range);
    d.betap_range = pair("datasets.train.betap_range", d.betap_range);
    d.kernel_prob2 = probs("datasets.train.kernel_prob2", d.kernel_prob2);
    d.sinc_prob2 = config_number(c, "datasets.train.sinc_prob2", d.sinc_prob2);
    d.blur_sigma2 = pair("datasets.train.blur_sigma2", d.blur_sigma2);
    d.betag_range2 = pair("datasets.train.betag_range2", d.betag_range2);
    d.betap_range2 = pair("datasets.train.betap_range2", d.betap_range2);
    d.final_sinc_prob = config_number(c, "datasets.train.final_sinc_prob", d.final_sinc_prob);
    return o;
}

TrainResult train(const TrainOptions& o) {
    SR_CHECK(o.total_iter >= 1 && o.val_freq >= 1 && o.print_freq >= 1 && o.save_freq >= 1,
             "train: total_iter, val_freq, print_freq and save_freq must be >= 1");
    SR_CHECK(!o.name.empty() && o.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == std::string::npos &&
                 o.name[0] != '.',
             "train: the run name '", o.name, "' must be letters, digits, '_', '-' and '.' (it names the run folder)");
    SR_CHECK(o.optimizer == "Adam" || o.optimizer == "AdamW", "train: optimizer must be Adam or AdamW, got '", o.optimizer, "'");
    SR_CHECK(o.schedule.base > 0, "train: the learning rate must be > 0, got ", o.schedule.base);
    const bool gan = !o.model_d.empty();
    SR_CHECK(!o.relativistic || gan, "train: the relativistic GAN (ESRGANModel) needs a discriminator (network_d)");
    SR_CHECK(o.net_d_iters >= 1 && o.net_d_init_iters >= 0, "train: net_d_iters must be >= 1 and net_d_init_iters >= 0");
    SR_CHECK(!gan || o.lr_d > 0, "train: the discriminator's learning rate must be > 0, got ", o.lr_d);
    const GanType gan_type = parse_gan_type(o.gan_type);
    if (o.threads > 0) omp_set_num_threads(o.threads);
    if (o.device.is_cuda()) gpu::set_precision(o.precision);
    else SR_CHECK(o.precision == "fp32", "train: precision ", o.precision, " needs --device cuda");
    const auto start_time = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count(); };

    // The networks, seeded so that a fresh run always starts from the same weights.
    manual_seed(o.seed);
    std::shared_ptr<Network> net = make_model(o.model);
    if (!o.pretrain_g.empty()) {  // e.g. the PSNR stage's weights; a resumed run overrides them
        SR_CHECK(fs::exists(o.pretrain_g), "train: the generator's starting weights '", o.pretrain_g,
                 "' (path.pretrain_network_g) do not exist: train the preset they come from first, or give --pretrain FILE");
        net->load(o.pretrain_g);
    }
    net->to(o.device);
    const int64_t net_scale = network_scale(*net, o.device);
    SR_CHECK(net_scale == o.scale, "train: model '", o.model, "' upscales by ", net_scale, ", but the data scale is ", o.scale);
    std::shared_ptr<Network> val_net = o.ema_decay > 0 ? make_model(o.model) : net;
    if (val_net != net) val_net->to(o.device);
    std::shared_ptr<Network> net_d = gan ? make_model(o.model_d) : nullptr;
    if (net_d) net_d->to(o.device);

    // Data.
    std::vector<SamplePaths> files;
    // Missing LR folders are made from HR (MATLAB bicubic, 8-bit), as DIV2K's were.
    for (const ImagePair& p : find_pairs(o.data, o.train_split, int(o.scale), /*lr_optional=*/true)) files.push_back({p.hr, p.lr});
    DataOptions data_options{.scale = o.scale, .patch = o.patch, .batch = o.batch, .hflip = o.hflip, .rotation = o.rotation,
                             .workers = o.workers, .cache_mb = o.cache_mb, .seed = o.seed};
    if (o.synthetic) {
        // Real-ESRGAN: the workers degrade HR crops of crop_pad_size, then crop the pair to the patch.
        SR_CHECK(o.crop_pad_size % o.scale == 0 && o.crop_pad_size >= o.patch * o.scale, "train: crop_pad_size ", o.crop_pad_size,
                 " must be a multiple of the scale and at least the HR patch ", o.patch * o.scale);
        SR_CHECK(o.queue_size >= o.batch && o.queue_size % o.batch == 0, "train: queue_size ", o.queue_size,
                 " must be a multiple of the batch size ", o.batch);
        data_options.patch = o.crop_pad_size / o.scale;
        DegradeOptions degradation = o.degradation;
        degradation.scale = o.scale;
        const int64_t gt_size = o.patch * o.scale;
        data_options.synthesize = [degradation, gt_size, seed = o.seed](const Tensor& hr, int64_t iter) {
            DegradedBatch d = degrade_batch(hr, degradation, seed, iter, gt_size);
            return std::pair<Tensor, Tensor>{d.lq, d.gt};
        };
    }
    TrainData data(files, data_options);
    std::vector<ValImage> val;
    const std::string val_root = o.val_data.empty() ? o.data : o.val_data;
    for (const ImagePair& p : find_pairs(val_root, o.val_split, int(o.scale), /*lr_optional=*/true)) {
        if (o.val_images > 0 && int64_t(val.size()) >= o.val_images) break;
        const ImagePair8 pair = load_pair({p.hr, p.lr}, o.scale);
        auto tensor = [&](const std::vector<uint8_t>& px, int64_t h, int64_t w) {
            std::vector<double> v(px.begin(), px.end());
            for (double& x : v) x /= 255.0;
            return from_vector(v, {3, h, w});
        };
        val.push_back({p.name, tensor(pair.lr, pair.h, pair.w), tensor(pair.hr, pair.h * o.scale, pair.w * o.scale)});
    }
    SR_CHECK(!val.empty(), "train: no validation images in split '", o.val_split, "' of '", val_root, "'");

    // Optimisation state and losses.
    AdamOptions adam{.lr = o.schedule.base, .beta1 = o.beta1, .beta2 = o.beta2, .weight_decay = o.weight_decay,
                     .decoupled_weight_decay = o.optimizer == "AdamW"};
    Adam optimizer(net->parameters(), adam);
    std::unique_ptr<Adam> optimizer_d =
        gan ? std::make_unique<Adam>(net_d->parameters(), AdamOptions{.lr = o.lr_d, .beta1 = o.beta1, .beta2 = o.beta2}) : nullptr;
    std::unique_ptr<Ema> ema = o.ema_decay > 0 ? std::make_unique<Ema>(*net, o.ema_decay) : nullptr;
    const PixelLoss pixel_loss(o.loss);
    std::unique_ptr<PerceptualLoss> perceptual = o.perceptual ? std::make_unique<PerceptualLoss>(o.perceptual_opt, o.device) : nullptr;
    SR_CHECK(!pixel_loss.terms().empty() || perceptual || gan, "train: no loss: pixel_opt is none and there is no perceptual or GAN loss");
    if (perceptual && !perceptual->pretrained() && !o.quiet)
        std::fprintf(stderr,
                     "warning: the perceptual loss runs on RANDOM VGG19 weights (no train.perceptual_opt.pretrained given):\n"
                     "         it still shapes textures, but it is not the published loss. ImageNet weights: convert\n"
                     "         torchvision's vgg19 with tools/convert/pytorch_to_safetensors.py --from torchvision-vgg19\n");

    // The columns of metrics.csv beside the total loss: each pixel term when there are several;
    // for perceptual/GAN training every term of the generator and the discriminator (BasicSR's names).
    const bool extended = gan || perceptual;
    std::vector<std::string> part_names;
    if (extended) {
        if (!pixel_loss.terms().empty()) part_names.push_back("l_g_pix");
        if (perceptual && o.perceptual_opt.perceptual_weight > 0) part_names.push_back("l_g_percep");
        if (perceptual && o.perceptual_opt.style_weight > 0) part_names.push_back("l_g_style");
        if (gan) part_names.insert(part_names.end(), {"l_g_gan", "l_d_real", "l_d_fake", "out_d_real", "out_d_fake"});
    } else if (pixel_loss.terms().size() > 1) {
        for (const auto& [type, w] : pixel_loss.terms()) part_names.push_back("loss_" + type);
    }

    // The run folder; continue from its checkpoint when there is one.
    const fs::path run = fs::path(o.out_dir) / o.name;
    fs::create_directories(run / "samples");
    fs::create_directories(run / "checkpoints");
    const std::string latest = (run / "checkpoints" / "latest.safetensors").string();
    const Trained generator{o.model, net.get(), &optimizer};
    std::optional<Trained> discriminator;
    if (gan) discriminator = Trained{o.model_d, net_d.get(), optimizer_d.get()};
    RunState state;
    state.seed = o.seed;
    if (o.resume && fs::exists(latest)) {
        state = load_checkpoint(latest, generator, ema.get(), discriminator ? &*discriminator : nullptr);
        SR_CHECK(state.seed == o.seed, "train: ", latest, " was made with seed ", state.seed, ", this run has seed ", o.seed,
                 ": its batches would differ. Use --seed ", state.seed, ", or --restart, or another --name");
        if (!o.quiet) std::printf("resuming %s from iteration %lld\n", run.string().c_str(), (long long)state.iteration);
    }
    std::unique_ptr<PairPool> pool = o.synthetic ? std::make_unique<PairPool>(o.queue_size) : nullptr;
    if (pool && !state.pool.empty()) pool->load_state(state.pool);
    if (state.iteration == 0)  // the weights a fresh run starts from (tools/reference/train_reference.py uses them)
        net->save((run / "net_g_init.safetensors").string(), {{"model", o.model}, {"seed", std::to_string(o.seed)}});
    write_file_atomic((run / "config.yaml").string(), options_yaml(o));
    MetricsLog log((run / "metrics.csv").string(), part_names, state.iteration);

    // The bicubic baseline on the validation images, once.
    std::vector<Tensor> bicubics;
    std::vector<Scores> base_scores;
    for (const ValImage& v : val) {
        bicubics.push_back(imresize(v.lr, double(o.scale)));
        base_scores.push_back(score(bicubics.back(), v.hr, o.scale));
    }
    const Scores bicubic = mean_scores(base_scores);

    TrainResult result;
    result.bicubic_psnr_y = bicubic.psnr_y;
    result.bicubic_ssim_y = bicubic.ssim_y;
    auto validate = [&](int64_t iter) {
        if (ema) val_net->load_state_dict(ema->state());
        val_net->eval();
        std::vector<Scores> scores;
        std::vector<Tensor> srs;
        for (const ValImage& v : val) {
            srs.push_back(upscale_image(*val_net, v.lr, {.tile = o.val_tile, .device = o.device}));
            scores.push_back(score(srs.back(), v.hr, o.scale));
        }
        val_net->train();
        const Scores m = mean_scores(scores);
        result.psnr_y = m.psnr_y;
        result.ssim_y = m.ssim_y;
        result.psnr_rgb = m.psnr_rgb;
        if (m.psnr_y > state.best_psnr_y) {
            state.best_psnr_y = m.psnr_y;
            state.best_iter = iter;
            val_net->save((run / "net_g_best.safetensors").string(), {{"model", o.model}, {"iteration", std::to_string(iter)}});
        }
        std::string row = std::to_string(iter) + "," + std::string(part_names.size(), ',');
        row += "," + fixed(o.schedule.at(iter), 9) + "," + fixed(m.psnr_y, 4) + "," + fixed(m.ssim_y, 5) + "," +
               fixed(m.psnr_rgb, 4) + "," + fixed(elapsed(), 1);
        log.add(row);
        draw_samples((run / "samples" / ("iter_" + std::to_string(iter) + ".png")).string(), val, srs, bicubics, o.scale);
        draw_curves((run / "curves.png").string(), log, part_names, bicubic.psnr_y);
    };
    auto checkpoint = [&](int64_t iter) {
        state.iteration = iter;
        if (pool) state.pool = pool->state();
        save_checkpoint(latest, generator, ema.get(), discriminator ? &*discriminator : nullptr, state);
        if (iter % o.save_freq == 0)
            fs::copy_file(latest, run / "checkpoints" / ("iter_" + std::to_string(iter) + ".safetensors"),
                          fs::copy_options::overwrite_existing);
    };

    const bool tty = isatty(fileno(stderr));
    double interval_loss = 0;
    std::vector<double> interval_parts(part_names.size(), 0.0);
    int64_t interval_count = 0;
    const double loop_start = elapsed();
    const int64_t first = state.iteration + 1;
    // Losses not read yet. Reading a GPU value waits for the GPU, so there they are read only
    // when a line is printed, before validating and before a checkpoint; on the CPU at once.
    struct Pending {
        int64_t iter;
        double lr;
        Tensor loss;
        std::vector<Tensor> parts;  // one per part_names entry
    };
    std::vector<Pending> pending;
    auto flush = [&] {
        for (const Pending& p : pending) {
            const double value = p.loss.item();
            SR_CHECK(std::isfinite(value), "train: the loss is ", value, " at iteration ", p.iter,
                     "; stopping. The last good checkpoint (iteration ", state.iteration, ") is left as it was in ", latest,
                     ". Try a lower learning rate or gradient clipping (--grad-clip).");
            result.losses.push_back(value);
            interval_loss += value;
            for (size_t t = 0; t < p.parts.size(); ++t) interval_parts[t] += p.parts[t].item();
            ++interval_count;
            if (p.iter % o.print_freq == 0 || p.iter == o.total_iter) {
                std::string row = std::to_string(p.iter) + "," + fixed(interval_loss / double(interval_count), 6);
                for (double part : interval_parts) row.append(",").append(fixed(part / double(interval_count), 6));
                row += "," + fixed(p.lr, 9) + ",,,," + fixed(elapsed(), 1);
                log.add(row);
            }
            if (!o.quiet && (tty || p.iter % o.print_freq == 0)) {
                const double rate = double(p.iter - first + 1) / std::max(elapsed() - loop_start, 1e-9);
                const int width = 20, filled = int(width * p.iter / o.total_iter);
                std::fprintf(stderr, "%siter %lld/%lld [%s%s] %.2f it/s ETA %s loss %.5f lr %.2e%s%s", tty ? "\r" : "",
                             (long long)p.iter, (long long)o.total_iter, std::string(filled, '#').c_str(),
                             std::string(width - filled, '.').c_str(), rate,
                             duration(double(o.total_iter - p.iter) / rate).c_str(), interval_loss / double(interval_count),
                             p.lr, result.psnr_y > 0 ? (" val " + fixed(result.psnr_y, 2) + " dB").c_str() : "",
                             tty ? "   " : "\n");
                std::fflush(stderr);
            }
            if (p.iter % o.print_freq == 0) {
                interval_loss = 0;
                std::fill(interval_parts.begin(), interval_parts.end(), 0.0);
                interval_count = 0;
            }
        }
        pending.clear();
    };

    // One iteration: the generator's step, then (GAN) the discriminator's.
    // batch: LR, HR, and for synthetic runs the USM-sharpened HR.
    auto step = [&](int64_t iter, const std::vector<Tensor>& batch, Pending& p) {
        const Tensor& lr_batch = batch[0];
        const Tensor& hr_batch = batch[1];
        const Tensor& l1_gt = o.synthetic && o.l1_gt_usm ? batch[2] : hr_batch;
        const Tensor& percep_gt = o.synthetic && o.percep_gt_usm ? batch[2] : hr_batch;
        const Tensor& gan_gt = o.synthetic && o.gan_gt_usm ? batch[2] : hr_batch;
        const bool step_g = !gan || (iter % o.net_d_iters == 0 && iter > o.net_d_init_iters);
        if (gan)  // frozen while the generator learns: no gradients are made for it
            for (Tensor w : net_d->parameters()) w.set_requires_grad(false);
        optimizer.zero_grad();
        Tensor sr;
        {
            std::optional<NoGradGuard> no_grad;  // the discriminator's warm-up: the generator's losses only for the log
            if (!step_g) no_grad.emplace();
            sr = net->forward(lr_batch);
            Tensor total;
            auto add = [&](const Tensor& term, bool part) {
                total = total.defined() ? total + term : term;
                if (part) p.parts.push_back(term.detach());
            };
            if (!pixel_loss.terms().empty()) {
                std::vector<Tensor> terms;
                add(pixel_loss(sr, l1_gt, extended ? nullptr : &terms), extended);
                if (!extended && part_names.size() > 1) p.parts = terms;
            }
            if (perceptual) {
                const PerceptualLoss::Terms t = (*perceptual)(sr, percep_gt);
                if (t.percep.defined()) add(t.percep, true);
                if (t.style.defined()) add(t.style, true);
            }
            if (gan) {
                const Tensor fake = net_d->forward(sr);
                const Tensor l = o.relativistic ? relativistic_gan_loss_g(net_d->forward(gan_gt).detach(), fake, gan_type)
                                                : gan_loss(fake, gan_type, true, false);
                add(l * o.gan_weight, true);
            }
            p.loss = total;
            if (step_g) {
                backward(total);
                if (o.grad_clip > 0) clip_gradients(net->parameters(), o.grad_clip);
                optimizer.step();
            }
            p.loss = p.loss.detach();
        }
        if (ema) ema->update(*net);  // every iteration, as BasicSR's model_ema
        if (!gan) return;
        for (Tensor w : net_d->parameters()) w.set_requires_grad(true);
        optimizer_d->set_lr(o.schedule.at(iter) * o.lr_d / o.schedule.base);
        optimizer_d->zero_grad();
        const Tensor real = net_d->forward(gan_gt);
        const Tensor fake = net_d->forward(sr.detach());
        Tensor l_real, l_fake;
        if (o.relativistic) std::tie(l_real, l_fake) = relativistic_gan_loss_d(real, fake, gan_type);
        else {
            l_real = gan_loss(real, gan_type, true, true);
            l_fake = gan_loss(fake, gan_type, false, true);
        }
        backward(l_real + l_fake);
        optimizer_d->step();
        NoGradGuard no_grad;
        p.parts.insert(p.parts.end(), {l_real.detach(), l_fake.detach(), mean(real.detach()), mean(fake.detach())});
    };

    DeviceBatches batches(data, o.device);
    // The batch of an iteration on the training device. Synthetic runs pass it through the
    // training-pair pool first, in iteration order (so the pool in a checkpoint is exact), and
    // sharpen the ground truth that comes out.
    auto next_batch = [&](int64_t iter) -> std::vector<Tensor> {
        if (!o.synthetic) {
            const auto [lr_batch, hr_batch] = batches.take(iter, iter < o.total_iter);
            return {lr_batch, hr_batch};
        }
        auto [lq, gt] = data.batch(iter);
        std::tie(lq, gt) = pool->exchange(lq, gt, o.seed, iter);
        const Tensor gt_usm = usm_sharp(gt);
        return {lq.to(o.device), gt.to(o.device), gt_usm.to(o.device)};
    };
    net->train();
    for (int64_t iter = first; iter <= o.total_iter; ++iter) {
        const double lr = o.schedule.at(iter);
        optimizer.set_lr(lr);
        Pending p{iter, lr, Tensor(), {}};
        step(iter, next_batch(iter), p);
        result.iterations = iter;
        pending.push_back(std::move(p));

        const bool stop = interrupt_requested;  // read once: a Ctrl-C right now still gets its checkpoint
        const bool validating = iter % o.val_freq == 0 || iter == o.total_iter;
        const bool saving = iter % o.save_freq == 0 || iter == o.total_iter || stop;
        if (o.device.is_cpu() || iter % o.print_freq == 0 || validating || saving) flush();
        if (validating) {
            validate(iter);
            if (o.device.is_cuda() && !o.quiet) std::fprintf(stderr, "%s%s\n", tty ? "\n" : "", gpu::memory_summary(o.device.index).c_str());
        }
        if (saving) checkpoint(iter);
        if (stop) {
            result.interrupted = true;
            if (!o.quiet) std::fprintf(stderr, "\ninterrupted: checkpoint saved at iteration %lld; run again to continue\n", (long long)iter);
            break;
        }
    }
    flush();
    if (!o.quiet && tty) std::fprintf(stderr, "\n");
    if (!result.interrupted && result.iterations == 0) validate(state.iteration);  // nothing left to train: report anyway
    net->save((run / "net_g_latest.safetensors").string(), {{"model", o.model}});
    if (net_d) net_d->save((run / "net_d_latest.safetensors").string(), {{"model", o.model_d}});
    if (ema) {
        val_net->load_state_dict(ema->state());
        val_net->save((run / "net_g_ema.safetensors").string(), {{"model", o.model}});
    }
    result.seconds = elapsed();
    return result;
}

}  // namespace sr
