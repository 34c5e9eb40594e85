#include "train/trainer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "autograd/backward.h"
#include "core/factory.h"
#include "core/file.h"
#include "core/gpu.h"
#include "core/image_io.h"
#include "models/spec.h"
#include "models/upscale.h"
#include "ops/gemm.h"
#include "ops/reduce.h"
#include "train/basicsr_state.h"
#include "train/cyclegan_trainer.h"
#include "train/data.h"
#include "train/datasets.h"
#include "train/degrade.h"
#include "train/device_batches.h"
#include "train/distributed.h"
#include "train/ema.h"
#include "train/imresize.h"
#include "train/losses.h"
#include "train/metrics.h"
#include "train/perceptual.h"
#include "train/run_log.h"

namespace sr {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> interrupt_requested{false};

// The first Ctrl-C asks for a checkpoint and a clean stop; a second one ends the process at once.
void on_interrupt(int) {
    interrupt_requested = true;
    std::signal(SIGINT, SIG_DFL);
}

}  // namespace

// ---- the loop ----------------------------------------------------------------------------------

TrainResult Trainer::run() {
    net_g_->train();
    for (int64_t iter = state_.iteration + 1; iter <= o_.total_iter; ++iter) {
        StepLosses losses{iter, o_.schedule.at(iter), Tensor(), {}};
        const Batch batch = next_batch(iter);
        const Tensor sr = generator_step(iter, batch, losses);
        if (o_.gan()) discriminator_step(iter, batch, sr, losses);
        const bool stop = average_over_ranks(losses);  // a Ctrl-C on any rank (read once: it still gets its checkpoint)
        if (log_) log_->add(std::move(losses));
        result_.iterations = iter;

        const IterationPlan plan = plan_iteration(o_, iter, stop);
        if (log_ && (o_.device.is_cpu() || iter % o_.print_freq == 0 || plan.validating || plan.saving))
            log_->flush("The last good checkpoint (iteration " + std::to_string(state_.iteration) + ") is left as it was in " + latest_ + ".");
        if (plan.validating) validate(iter);
        if (plan.saving) checkpoint(iter);
        if (stop) {
            report_stop(result_, iter, o_.quiet);
            break;
        }
    }
    if (finished_already(result_, state_)) return result_;  // nothing is trained, logged or written
    save_weights();
    if (log_) result_.losses = log_->losses(), result_.seconds = log_->seconds();
    if (ProcessGroup::world().size() > 1) report_overlap();
    return result_;
}

// How much of the generator's all-reduce backward hid: the share of its bytes reduced before
// backward ended, and the wait after it per step (which also holds the ranks' skew: the time a
// rank waits for a slower one), against a blocking all-reduce of the same bytes, measured now.
void Trainer::report_overlap() {
    const double blocking = averager_g_->blocking_seconds();  // on every rank: it is collective
    const GradientAverager& a = *averager_g_;
    if (!ProcessGroup::world().is_root() || a.calls() == 0) return;  // printed even with --quiet, as the results are
    const double total = double(a.bytes_per_call()) * double(a.calls());
    std::printf("all-reduce of the generator's gradients: %.3f MB per step, %.0f%% of it done before backward ended; "
                "%.2f ms per step waited after backward, %.2f ms for a blocking all-reduce\n",
                double(a.bytes_per_call()) / 1e6, total > 0 ? 100.0 * double(a.hidden_bytes()) / total : 0.0,
                1e3 * a.exposed_seconds() / double(a.calls()), 1e3 * blocking);
}

// With several ranks: every logged loss becomes the mean over the ranks (each rank's is the mean
// over its share of the batch), and whether any rank was asked to stop. One all-reduce.
bool Trainer::average_over_ranks(StepLosses& losses) const {
    const ProcessGroup& world = ProcessGroup::world();
    if (world.size() == 1) return interrupt_requested;
    std::vector<double> values{interrupt_requested ? 1.0 : 0.0, losses.total.item()};
    for (const Tensor& p : losses.parts) values.push_back(p.item());
    values = world.sum(values);
    NoGradGuard no_grad;
    const double n = double(world.size());
    losses.total = full({}, values[1] / n);
    for (size_t i = 0; i < losses.parts.size(); ++i) losses.parts[i] = full({}, values[2 + i] / n);
    return values[0] > 0;
}

// ---- one iteration -----------------------------------------------------------------------------

// The batch of an iteration on the training device. Synthetic (Real-ESRGAN) runs pass it through
// the training-pair pool first, in iteration order (so the pool in a checkpoint is exact), and
// sharpen the ground truth that comes out.
Trainer::Batch Trainer::next_batch(int64_t iter) {
    if (!o_.synthetic()) {
        const auto [lq, gt] = batches_->take(iter, iter < o_.total_iter);
        return {lq, gt, Tensor()};
    }
    auto [lq, gt] = data_->batch(iter);
    std::tie(lq, gt) = pool_->exchange(lq, gt, rank_seed(o_.seed, ProcessGroup::world().rank()), iter);
    const Tensor gt_usm = usm_sharp(gt);
    return {lq.to(o_.device), gt.to(o_.device), gt_usm.to(o_.device)};
}

namespace {

// The random stream of a network's own draws (stochastic depth) at one iteration of one rank:
// distinct for every (seed, iteration, rank), mixed as splitmix64 mixes its state.
uint64_t iteration_stream(uint64_t seed, int64_t iter, int rank) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + uint64_t(iter) * 0xBF58476D1CE4E5B9ull + uint64_t(rank) * 0x94D049BB133111EBull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

}  // namespace

// The generator's losses and, unless the discriminator is still warming up (net_d_init_iters) or
// this is not one of its net_d_iters, its update. Returns SR for the discriminator.
Tensor Trainer::generator_step(int64_t iter, const Batch& b, StepLosses& losses) {
    const Tensor& l1_gt = o_.synthetic() && o_.l1_gt_usm ? b.gt_usm : b.gt;
    const Tensor& percep_gt = o_.synthetic() && o_.percep_gt_usm ? b.gt_usm : b.gt;
    const Tensor& gan_gt = o_.synthetic() && o_.gan_gt_usm ? b.gt_usm : b.gt;
    const bool update = !o_.gan() || (iter % o_.net_d_iters == 0 && iter > o_.net_d_init_iters);
    const bool extended = o_.gan() || perceptual_;  // metrics.csv gets every term by BasicSR's name
    if (o_.gan())  // frozen while the generator learns: no gradients are made for it
        for (Tensor w : net_d_->parameters()) w.set_requires_grad(false);
    optim_g_->set_lr(losses.lr);
    optim_g_->zero_grad();
    net_g_->set_random_stream(iteration_stream(o_.seed, iter, ProcessGroup::world().rank()));
    std::optional<NoGradGuard> no_grad;  // the discriminator's warm-up: the losses only for the log
    if (!update) no_grad.emplace();
    const Tensor sr = net_g_->forward(b.lq);
    Tensor total;
    auto add = [&](const Tensor& term) {
        total = total.defined() ? total + term : term;
        if (extended) losses.parts.push_back(term.detach());
    };
    if (!pixel_loss_->terms().empty()) {
        std::vector<Tensor> terms;
        add((*pixel_loss_)(sr, l1_gt, &terms));
        if (!extended && part_names_.size() > 1) losses.parts = terms;
    }
    if (perceptual_) {
        const PerceptualLoss::Terms t = (*perceptual_)(sr, percep_gt);
        if (t.percep.defined()) add(t.percep);
        if (t.style.defined()) add(t.style);
    }
    if (o_.gan()) {
        const Tensor fake = net_d_->forward(sr);
        add((o_.relativistic() ? relativistic_gan_loss_g(net_d_->forward(gan_gt).detach(), fake, gan_type_)
                               : gan_loss(fake, gan_type_, true, false)) * o_.gan_weight);
    }
    if (update) {
        averager_g_->backward(total);  // averaged over the ranks, when there are several
        if (o_.grad_clip > 0) clip_gradients(net_g_->parameters(), o_.grad_clip);
        optim_g_->step();
    }
    losses.total = total.detach();
    if (ema_) ema_->update(*net_g_);  // every iteration, as BasicSR's model_ema
    return sr;
}

// The discriminator on HR (real) and on SR detached (fake), with its own Adam; its rate follows
// the generator's schedule scaled to its own base rate.
void Trainer::discriminator_step(int64_t iter, const Batch& b, const Tensor& sr, StepLosses& losses) {
    const Tensor& gan_gt = o_.synthetic() && o_.gan_gt_usm ? b.gt_usm : b.gt;
    for (Tensor w : net_d_->parameters()) w.set_requires_grad(true);
    optim_d_->set_lr(o_.schedule.at(iter) * o_.lr_d / o_.schedule.base);
    optim_d_->zero_grad();
    const Tensor real = net_d_->forward(gan_gt);
    const Tensor fake = net_d_->forward(sr.detach());
    Tensor l_real, l_fake;
    if (o_.relativistic()) {
        std::tie(l_real, l_fake) = relativistic_gan_loss_d(real, fake, gan_type_);
    } else {
        l_real = gan_loss(real, gan_type_, true, true);
        l_fake = gan_loss(fake, gan_type_, false, true);
    }
    averager_d_->backward(l_real + l_fake);
    optim_d_->step();
    NoGradGuard no_grad;
    losses.parts.insert(losses.parts.end(), {l_real.detach(), l_fake.detach(), mean(real.detach()), mean(fake.detach())});
}

// ---- validation and checkpoints ----------------------------------------------------------------

namespace {

double metric_value(const MetricOptions& m, const Tensor& sr, const Tensor& hr) {
    if (m.type == "calculate_ssim") return m.test_y_channel ? ssim_y(sr, hr, m.crop_border) : ssim_rgb(sr, hr, m.crop_border);
    return m.test_y_channel ? psnr_y(sr, hr, m.crop_border) : psnr_rgb(sr, hr, m.crop_border);
}

}  // namespace

// One validation set on whole images: its outputs (and, with val.save_img, their files) and the
// means of its metrics; the standard three (PSNR-Y, SSIM-Y, PSNR-RGB at crop_border = scale) are
// the default metrics, or computed beside val.metrics for the first set, which train_sr reports.
Trainer::SetScores Trainer::validate_set(const ValSet& set, int64_t iter, bool first) {
    SetScores out;
    out.metrics.assign(metrics_.size(), 0.0);
    const double n = double(set.images.size());
    for (const ValImage& v : set.images) {
        const Tensor sr = upscale_image(*net_g_val_, v.lr, {.tile = o_.val_tile, .device = o_.device});
        if (o_.save_img) {
            const fs::path dir = fs::path(run_dir_) / "visualization" / v.name;
            fs::create_directories(dir);
            write_png((dir / (v.name + "_" + std::to_string(iter) + ".png")).string(), quantize_u8(sr));
        }
        if (!v.hr.defined()) continue;
        if (o_.metrics.empty() || first) {
            const ImageScores s = score_image(sr, v.hr, o_.scale);
            out.standard.psnr_y += s.psnr_y / n;
            out.standard.ssim_y += s.ssim_y / n;
            out.standard.psnr_rgb += s.psnr_rgb / n;
        }
        if (!o_.metrics.empty())
            for (size_t m = 0; m < metrics_.size(); ++m) out.metrics[m] += metric_value(metrics_[m], sr, v.hr) / n;
        out.srs.push_back(sr);
        out.hrs.push_back(v.hr);
        out.bicubics.push_back(v.bicubic);
    }
    if (o_.metrics.empty()) out.metrics = {out.standard.psnr_y, out.standard.ssim_y, out.standard.psnr_rgb};
    return out;
}

// Every validation set (the EMA weights when there are some): val.metrics per set into
// metrics.csv (and TensorBoard), the best weights by the first metric of the first set, samples
// of the first set.
void Trainer::validate(int64_t iter) {
    if (val_sets_.empty() || !ProcessGroup::world().is_root()) return;
    if (ema_) net_g_val_->load_state_dict(ema_->state());
    net_g_val_->eval();
    std::vector<double> row;
    for (size_t k = 0; k < val_sets_.size(); ++k) {
        const SetScores s = validate_set(val_sets_[k], iter, k == 0);
        if (s.hrs.empty()) continue;  // no ground truth: outputs only
        row.insert(row.end(), s.metrics.begin(), s.metrics.end());
        if (k != 0) continue;
        result_.psnr_y = s.standard.psnr_y;
        result_.ssim_y = s.standard.ssim_y;
        result_.psnr_rgb = s.standard.psnr_rgb;
        result_.metrics.clear();
        for (size_t m = 0; m < metrics_.size(); ++m) result_.metrics.push_back({metrics_[m].name, s.metrics[m]});
        draw_samples((fs::path(run_dir_) / "samples" / ("iter_" + std::to_string(iter) + ".png")).string(), s.hrs, s.srs, s.bicubics,
                     o_.scale);
    }
    net_g_val_->train();
    result_.validated = true;
    result_.validated_iter = iter;
    if (!row.empty() && row[0] > state_.best_psnr_y) {
        state_.best_psnr_y = row[0];
        state_.best_iter = iter;
        net_g_val_->save((fs::path(run_dir_) / "net_g_best.safetensors").string(), {{"model", o_.model}, {"iteration", std::to_string(iter)}});
    }
    log_->add_validation(iter, o_.schedule.at(iter), row);
    log_->draw_curves(bicubic_first_metric_);
    if (o_.device.is_cuda() && !o_.quiet) std::fprintf(stderr, "\n%s\n", gpu::memory_summary(o_.device.index).c_str());
}

void Trainer::checkpoint(int64_t iter) {
    state_.iteration = iter;
    if (pool_) state_.pool = gather_rank_states(pool_->state());  // every rank takes part
    if (!ProcessGroup::world().is_root()) return;
    const Trained g{o_.model, net_g_.get(), optim_g_.get()};
    const Trained d{o_.model_d, net_d_.get(), optim_d_.get()};
    save_checkpoint(latest_, g, ema_.get(), o_.gan() ? &d : nullptr, state_);
    if (iter % o_.save_freq == 0)
        copy_file_atomic(latest_, (fs::path(run_dir_) / "checkpoints" / ("iter_" + std::to_string(iter) + ".safetensors")).string());
}

void Trainer::save_weights() {
    if (!ProcessGroup::world().is_root()) return;
    const fs::path run(run_dir_);
    net_g_->save((run / "net_g_latest.safetensors").string(), {{"model", o_.model}});
    if (net_d_) net_d_->save((run / "net_d_latest.safetensors").string(), {{"model", o_.model_d}});
    if (ema_) {
        net_g_val_->load_state_dict(ema_->state());
        net_g_val_->save((run / "net_g_ema.safetensors").string(), {{"model", o_.model}});
    }
}

// ---- setup -------------------------------------------------------------------------------------

Trainer::Trainer(const TrainOptions& options) : o_(options) {
    check_options(o_);
    gan_type_ = parse_gan_type(o_.gan_type);
    share_machine(o_.threads, o_.device);  // the cores (and GPUs) of a machine among its ranks
    use_precision(o_);
    build_networks();
    build_data();
    build_validation();
    build_losses();
    open_run_folder();
}

Trainer::~Trainer() = default;

namespace {

// Weights a run starts from (path.pretrain_network_g/_d): safetensors, or a PyTorch checkpoint
// whose state dict is under `param_key` (BasicSR's param_key_g/_d; empty: the usual wrappers).
void load_pretrained(Network& net, const std::string& path, bool strict, const std::string& param_key, const char* option) {
    SR_CHECK(fs::exists(path), "train: the starting weights '", path, "' (path.", option,
             ") do not exist: train the preset they come from first, or give --pretrain FILE");
    net.load(path, /*allow_unexpected=*/!strict, param_key);
}

}  // namespace

// The networks, seeded so that a fresh run always starts from the same weights.
void Trainer::build_networks() {
    manual_seed(o_.seed);
    net_g_ = make_model(o_.model);
    if (!o_.pretrain_g.empty()) load_pretrained(*net_g_, o_.pretrain_g, o_.strict_load_g, o_.param_key_g, "pretrain_network_g");  // a resumed run overrides them
    net_g_->to(o_.device);
    const int64_t net_scale = network_scale(*net_g_, o_.device);
    SR_CHECK(net_scale == o_.scale, "train: model '", o_.model, "' upscales by ", net_scale, ", but the data scale is ", o_.scale);
    net_g_val_ = o_.ema_decay > 0 ? make_model(o_.model) : net_g_;
    if (net_g_val_ != net_g_) net_g_val_->to(o_.device);
    if (!o_.gan()) return;
    net_d_ = make_model(o_.model_d);
    if (!o_.pretrain_d.empty()) load_pretrained(*net_d_, o_.pretrain_d, o_.strict_load_d, o_.param_key_d, "pretrain_network_d");
    net_d_->to(o_.device);
}

// Training samples: random aligned crops; for Real-ESRGAN, HR crops of crop_pad_size that the
// workers degrade, then crop to the patch.
void Trainer::build_data() {
    std::vector<SamplePaths> files;
    for (const DatasetSample& s : dataset_samples(o_.train_set, o_.scale)) {
        SR_CHECK(!s.paths.hr.empty(), "train: datasets.train has no ground truth (SingleImageDataset only validates)");
        files.push_back(s.paths);
    }
    const ProcessGroup& world = ProcessGroup::world();
    DataOptions d{.scale = o_.scale, .patch = o_.patch, .batch = o_.batch, .hflip = o_.hflip, .rotation = o_.rotation,
                  .workers = o_.workers, .cache_mb = o_.cache_mb, .seed = o_.seed, .first_sample = world.rank() * o_.batch};
    if (o_.synthetic()) {
        SR_CHECK(o_.crop_pad_size % o_.scale == 0 && o_.crop_pad_size >= o_.patch * o_.scale, "train: crop_pad_size ", o_.crop_pad_size,
                 " must be a multiple of the scale and at least the HR patch ", o_.patch * o_.scale);
        SR_CHECK(o_.queue_size >= o_.batch && o_.queue_size % o_.batch == 0, "train: queue_size ", o_.queue_size,
                 " must be a multiple of the batch size ", o_.batch);
        d.patch = o_.crop_pad_size / o_.scale;
        DegradeOptions degradation = o_.degradation;
        degradation.scale = o_.scale;
        const int64_t gt_size = o_.patch * o_.scale;
        // Each rank degrades its own crops with its own draws and keeps its own pool of pairs, as
        // each GPU process does in Real-ESRGAN (so N ranks are not one process of N times the batch).
        d.synthesize = [degradation, gt_size, seed = rank_seed(o_.seed, world.rank())](const Tensor& hr, int64_t iter) {
            DegradedBatch b = degrade_batch(hr, degradation, seed, iter, gt_size);
            return std::pair<Tensor, Tensor>{b.lq, b.gt};
        };
        pool_ = std::make_unique<PairPool>(o_.queue_size);
    }
    data_ = std::make_unique<TrainData>(files, d);
    batches_ = std::make_unique<DeviceBatches>(*data_, o_.device);
}

namespace {

Tensor to_tensor(const std::vector<uint8_t>& px, int64_t h, int64_t w) {
    std::vector<double> v(px.begin(), px.end());
    for (double& x : v) x /= 255.0;
    return from_vector(v, {3, h, w});
}

}  // namespace

// Validation images, whole, with their bicubic upscale; without val sets, the training folder's
// valid split, or (BasicSR's files without datasets.val) no validation at all.
void Trainer::build_validation() {
    std::vector<DatasetOptions> sets = o_.val_sets;
    if (sets.empty() && !o_.train_set.dataroot.empty()) {
        DatasetOptions v;
        v.phase = "val";
        v.dataroot = o_.train_set.dataroot;
        v.split = "valid";
        sets.push_back(v);
    }
    for (const DatasetOptions& d : sets) {
        ValSet set{d.name.empty() ? d.phase : d.name, {}};
        for (const DatasetSample& s : dataset_samples(d, o_.scale)) {
            if (s.paths.hr.empty()) {  // SingleImageDataset: the LR alone
                SamplePaths lr_only{s.paths.lr, "", s.paths.lr_db, nullptr};
                const ImagePair8 lr = load_pair(lr_only, o_.scale, /*hr_only=*/true);
                set.images.push_back({s.name, to_tensor(lr.hr, lr.h, lr.w), Tensor(), Tensor()});
                continue;
            }
            const ImagePair8 pair = load_pair(s.paths, o_.scale);
            const Tensor lr = to_tensor(pair.lr, pair.h, pair.w);
            set.images.push_back({s.name, lr, to_tensor(pair.hr, pair.h * o_.scale, pair.w * o_.scale), imresize(lr, double(o_.scale))});
        }
        val_sets_.push_back(std::move(set));
    }
    metrics_ = o_.metrics;
    if (metrics_.empty())
        metrics_ = {{"psnr_y", "calculate_psnr", o_.scale, true}, {"ssim_y", "calculate_ssim", o_.scale, true},
                    {"psnr_rgb", "calculate_psnr", o_.scale, false}};
    if (val_sets_.empty()) return;
    std::vector<ImageScores> base;
    for (const ValImage& v : val_sets_[0].images)
        if (v.hr.defined()) base.push_back(score_image(v.bicubic, v.hr, o_.scale));
    for (const ImageScores& s : base) {
        result_.bicubic_psnr_y += s.psnr_y / double(base.size());
        result_.bicubic_ssim_y += s.ssim_y / double(base.size());
    }
    for (const ValImage& v : val_sets_[0].images)  // the dashed line of curves.png: bicubic by the first metric
        if (v.hr.defined()) bicubic_first_metric_ += metric_value(metrics_[0], v.bicubic, v.hr) / double(base.size());
}

// Optimisers, EMA and losses; the names of the loss terms logged beside the total.
void Trainer::build_losses() {
    optim_g_ = std::make_unique<Adam>(net_g_->parameters(),
                                      AdamOptions{.lr = o_.schedule.base, .beta1 = o_.beta1, .beta2 = o_.beta2,
                                                  .weight_decay = o_.weight_decay, .decoupled_weight_decay = o_.optimizer == "AdamW"});
    if (o_.gan()) optim_d_ = std::make_unique<Adam>(net_d_->parameters(), AdamOptions{.lr = o_.lr_d, .beta1 = o_.beta1, .beta2 = o_.beta2});
    averager_g_ = std::make_unique<GradientAverager>(net_g_->parameters());
    if (o_.gan()) averager_d_ = std::make_unique<GradientAverager>(net_d_->parameters());
    if (o_.ema_decay > 0) ema_ = std::make_unique<Ema>(*net_g_, o_.ema_decay);
    pixel_loss_ = std::make_unique<PixelLoss>(o_.loss);
    if (o_.perceptual) perceptual_ = std::make_unique<PerceptualLoss>(o_.perceptual_opt, o_.device);
    SR_CHECK(!pixel_loss_->terms().empty() || perceptual_ || o_.gan(), "train: no loss: pixel_opt is none and there is no perceptual or GAN loss");
    if (perceptual_ && !perceptual_->pretrained() && !o_.quiet)
        std::fprintf(stderr,
                     "warning: the perceptual loss runs on RANDOM VGG19 weights (no train.perceptual_opt.pretrained given):\n"
                     "         it still shapes textures, but it is not the published loss. ImageNet weights: give\n"
                     "         torchvision's vgg19-dcbb9e9d.pth as train.perceptual_opt.pretrained\n");
    if (o_.gan() || perceptual_) {
        if (!pixel_loss_->terms().empty()) part_names_.push_back("l_g_pix");
        if (perceptual_ && o_.perceptual_opt.perceptual_weight > 0) part_names_.push_back("l_g_percep");
        if (perceptual_ && o_.perceptual_opt.style_weight > 0) part_names_.push_back("l_g_style");
        if (o_.gan()) part_names_.insert(part_names_.end(), {"l_g_gan", "l_d_real", "l_d_fake", "out_d_real", "out_d_fake"});
    } else if (pixel_loss_->terms().size() > 1) {
        for (const auto& [type, w] : pixel_loss_->terms()) part_names_.push_back("loss_" + type);
    }
}

std::string checkpoint_to_resume(const TrainOptions& o, const std::string& latest) {
    if (!o.resume_state.empty()) return o.resume_state;
    if (!o.resume) return "";
    if (fs::exists(latest)) return latest;
    int64_t newest = 0;
    std::string path;
    for (const auto& entry : fs::directory_iterator(fs::path(latest).parent_path())) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("iter_", 0) != 0 || entry.path().extension() != ".safetensors") continue;
        const std::string digits = entry.path().stem().string().substr(5);
        if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 15) continue;
        if (std::stoll(digits) > newest) newest = std::stoll(digits), path = entry.path().string();
    }
    return path;
}

void use_precision(const TrainOptions& o) {
    if (o.device.is_cuda()) gpu::set_precision(o.precision);
    else set_gemm_precision(o.precision == "bf16" ? GemmPrecision::bf16 : GemmPrecision::fp32);
}

RunFolder prepare_run_folder(const TrainOptions& o, std::unique_ptr<FolderLock>& lock) {
    const fs::path run = fs::path(o.out_dir) / o.name;
    RunFolder folder{run.string(), (run / "checkpoints" / "latest.safetensors").string(), ""};
    SR_CHECK(o.resume_state.empty() || fs::exists(o.resume_state), "train: path.resume_state '", o.resume_state, "' does not exist");
    if (ProcessGroup::world().is_root()) {
        fs::create_directories(run / "samples");
        fs::create_directories(run / "checkpoints");
        lock = std::make_unique<FolderLock>(folder.dir, "train: the run folder");
        for (const fs::path& dir : {run, run / "checkpoints", run / "samples"}) remove_stale_temp_files(dir.string());
    }
    folder.resume_from = fs::exists(run / "checkpoints") ? checkpoint_to_resume(o, folder.latest) : o.resume_state;
    return folder;
}

// The run folder, locked while this run uses it; continue from its checkpoint (or
// path.resume_state) when there is one.
void Trainer::open_run_folder() {
    const RunFolder folder = prepare_run_folder(o_, lock_);
    std::tie(run_dir_, latest_) = std::tie(folder.dir, folder.latest);
    const fs::path run(run_dir_);
    const std::string& from = folder.resume_from;
    const bool root = ProcessGroup::world().is_root();  // the other ranks only read the run folder
    state_.seed = o_.seed;
    if (!from.empty()) {
        const Trained g{o_.model, net_g_.get(), optim_g_.get()};
        const Trained d{o_.model_d, net_d_.get(), optim_d_.get()};
        const bool basicsr = is_pytorch_file(from);  // BasicSR's training_states/N.state
        state_ = basicsr ? load_basicsr_state(from, g, ema_.get(), o_.gan() ? &d : nullptr, o_.seed)
                         : load_checkpoint(from, g, ema_.get(), o_.gan() ? &d : nullptr);
        SR_CHECK(state_.seed == o_.seed, "train: ", from, " was made with seed ", state_.seed, ", this run has seed ", o_.seed,
                 ": its batches would differ. Use --seed ", state_.seed, ", or --restart, or another --name");
        if (!o_.quiet && root)
            std::printf("resuming %s from iteration %lld (%s%s)\n", run_dir_.c_str(), (long long)state_.iteration, from.c_str(),
                        basicsr ? ", a BasicSR training state: weights and optimiser continue, batches are srforge's own" : "");
    }
    if (pool_ && !state_.pool.empty()) restore_pool();
    if (state_.iteration >= o_.total_iter || !root) return;  // finished already: run() leaves the folder as it is
    if (state_.iteration == 0)  // the weights a fresh run starts from (tools/reference/train_reference.py uses them)
        net_g_->save((run / "net_g_init.safetensors").string(), {{"model", o_.model}, {"seed", std::to_string(o_.seed)}});
    write_file_atomic((run / "config.yaml").string(), options_yaml(o_));
    RunLogOptions log{.run_dir = run_dir_, .part_names = part_names_, .val_columns = {}, .val_tags = {}, .print_freq = o_.print_freq, .total_iter = o_.total_iter,
                      .resume_iter = state_.iteration, .quiet = o_.quiet, .tensorboard = o_.use_tb_logger};
    for (size_t k = 0; k < val_sets_.size(); ++k) {
        if (val_sets_[k].images.empty() || !val_sets_[k].images[0].hr.defined()) continue;
        for (const MetricOptions& m : metrics_) {
            log.val_columns.push_back(k == 0 ? m.name : val_sets_[k].name + "/" + m.name);
            log.val_tags.push_back("metrics/" + val_sets_[k].name + "/" + m.name);
        }
    }
    log_ = std::make_unique<RunLog>(log);
}

// Each rank takes its own pool from the checkpoint. A checkpoint of another number of ranks
// resumes too, but the pools of ranks it lacks start empty (and the extra ones are dropped), so
// that run does not continue bit for bit; rank 0 says so.
void Trainer::restore_pool() {
    const ProcessGroup& world = ProcessGroup::world();
    const int saved = ranks_in_state(state_.pool);
    const NamedTensors own = rank_state(state_.pool, world.rank());
    if (!own.empty()) pool_->load_state(own);
    if (saved > 0 && saved != world.size() && world.is_root() && !o_.quiet)
        std::printf("note: the checkpoint holds the pair pools of %d rank(s), this run has %d: %s\n", saved, world.size(),
                    saved < world.size() ? "the pools of the new ranks start empty" : "the pools of the missing ranks are dropped");
}

TrainResult train(const TrainOptions& options) {
    if (options.unpaired()) return CycleGanTrainer(options).run();
    return Trainer(options).run();
}

bool stop_requested() { return interrupt_requested; }

IterationPlan plan_iteration(const TrainOptions& o, int64_t iter, bool stop) {
    const bool last = iter == o.total_iter;
    return {iter % o.val_freq == 0 || last, iter % o.save_freq == 0 || last || stop};
}

void report_stop(TrainResult& result, int64_t iter, bool quiet) {
    result.interrupted = true;
    if (!quiet) std::fprintf(stderr, "\ninterrupted: checkpoint saved at iteration %lld; run again to continue\n", (long long)iter);
}

bool finished_already(TrainResult& result, const RunState& state) {
    if (result.iterations != 0) return false;
    result.iterations = state.iteration;
    result.already_finished = true;
    return true;
}

void install_interrupt_handler() { std::signal(SIGINT, on_interrupt); }

}  // namespace sr
