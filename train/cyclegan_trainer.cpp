#include "train/cyclegan_trainer.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iterator>

#include "core/factory.h"
#include "core/file.h"
#include "core/gpu.h"
#include "core/image_io.h"
#include "models/spec.h"
#include "models/upscale.h"
#include "train/datasets.h"
#include "train/distributed.h"
#include "train/imresize.h"
#include "train/metrics.h"
#include "train/run_log.h"
#include "train/unpaired.h"

namespace sr {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kPartNames = {"l_g_A", "l_g_B", "l_cycle_A", "l_cycle_B", "l_idt_A", "l_idt_B", "l_d_A", "l_d_B"};

// The reference's layout (dataroot/trainA, dataroot/trainB) unless the folders are given.
std::pair<std::string, std::string> domain_folders(const DatasetOptions& d) {
    if (!d.dataroot_a.empty() || !d.dataroot_b.empty()) {
        SR_CHECK(!d.dataroot_a.empty() && !d.dataroot_b.empty(), "train: UnpairedImageDataset needs both dataroot_a and dataroot_b");
        return {d.dataroot_a, d.dataroot_b};
    }
    return {(fs::path(d.dataroot) / "trainA").string(), (fs::path(d.dataroot) / "trainB").string()};
}

StepLosses step_losses(int64_t iter, double lr, const CycleGanLosses& l) {
    auto scalar = [](double v) { return from_vector(std::vector<double>{v}, {}); };
    const double generators = l.g_a + l.g_b + l.cycle_a + l.cycle_b + l.idt_a + l.idt_b;
    return {iter, lr, scalar(generators),
            {scalar(l.g_a), scalar(l.g_b), scalar(l.cycle_a), scalar(l.cycle_b), scalar(l.idt_a), scalar(l.idt_b), scalar(l.d_a),
             scalar(l.d_b)}};
}

}  // namespace

// ---- the loop ----------------------------------------------------------------------------------

TrainResult CycleGanTrainer::run() {
    for (const CycleGanPart& p : gan_->parts()) p.net->train();
    for (int64_t iter = state_.iteration + 1; iter <= o_.total_iter; ++iter) {
        const double lr = o_.schedule.at(iter);
        const auto [real_a, real_b] = data_->batch(iter);
        CycleGanLosses l = gan_->step(real_a.to(o_.device), real_b.to(o_.device), rank_seed(o_.seed, ProcessGroup::world().rank()), iter, lr,
                                      lr * o_.lr_d / o_.schedule.base);
        const bool stop = average_over_ranks(l);  // a Ctrl-C on any rank (read once: it still gets its checkpoint)
        if (log_) log_->add(step_losses(iter, lr, l));
        result_.iterations = iter;

        const IterationPlan plan = plan_iteration(o_, iter, stop);
        if (log_)
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
    return result_;
}

// With several ranks: each loss becomes its mean over the ranks (each rank's is the mean over its
// own batch), and the run stops when any rank was interrupted. Alone: the interrupt flag.
bool CycleGanTrainer::average_over_ranks(CycleGanLosses& l) const {
    const ProcessGroup& world = ProcessGroup::world();
    if (world.size() == 1) return stop_requested();
    double* fields[] = {&l.g_a, &l.g_b, &l.cycle_a, &l.cycle_b, &l.idt_a, &l.idt_b, &l.d_a, &l.d_b};
    std::vector<double> values{stop_requested() ? 1.0 : 0.0};
    for (double* f : fields) values.push_back(*f);
    values = world.sum(values);
    for (size_t i = 0; i < std::size(fields); ++i) *fields[i] = values[i + 1] / double(world.size());
    return values[0] > 0;
}

// ---- validation and checkpoints ----------------------------------------------------------------

// G_A on every whole validation image (whole: its instance norms see the image's statistics),
// scored against the ground truth; with val.save_img its outputs are kept.
void CycleGanTrainer::validate(int64_t iter) {
    if (val_.empty() || !ProcessGroup::world().is_root()) return;
    Network& g_a = gan_->g_a();
    g_a.eval();
    ImageScores mean;
    std::vector<Tensor> outputs, targets, inputs;
    for (const ValImage& v : val_) {
        const Tensor out = upscale_image(g_a, v.input, {.device = o_.device});
        if (o_.save_img) {
            const fs::path dir = fs::path(run_dir_) / "visualization" / v.name;
            fs::create_directories(dir);
            write_png((dir / (v.name + "_" + std::to_string(iter) + ".png")).string(), quantize_u8(out));
        }
        if (!v.target.defined()) continue;
        const ImageScores s = score_image(out, v.target, o_.scale);
        mean.psnr_y += s.psnr_y;
        mean.ssim_y += s.ssim_y;
        mean.psnr_rgb += s.psnr_rgb;
        outputs.push_back(out);
        targets.push_back(v.target);
        inputs.push_back(v.input);
    }
    g_a.train();
    if (outputs.empty()) return;  // no ground truth: outputs only
    const double n = double(outputs.size());
    result_.psnr_y = mean.psnr_y / n;
    result_.ssim_y = mean.ssim_y / n;
    result_.psnr_rgb = mean.psnr_rgb / n;
    result_.metrics = {{"psnr_y", result_.psnr_y}, {"ssim_y", result_.ssim_y}, {"psnr_rgb", result_.psnr_rgb}};
    result_.validated = true;
    result_.validated_iter = iter;
    draw_samples((fs::path(run_dir_) / "samples" / ("iter_" + std::to_string(iter) + ".png")).string(), targets, outputs, inputs, o_.scale,
                 {.baseline = "input (A)", .output = "G_A(input)", .target = "ground truth (B)"});
    if (result_.psnr_y > state_.best_psnr_y) {
        state_.best_psnr_y = result_.psnr_y;
        state_.best_iter = iter;
        g_a.save((fs::path(run_dir_) / "net_g_A_best.safetensors").string(), {{"model", specs_[0]}, {"iteration", std::to_string(iter)}});
    }
    log_->add_validation(iter, o_.schedule.at(iter), {result_.psnr_y, result_.ssim_y, result_.psnr_rgb});
    log_->draw_curves(result_.bicubic_psnr_y);
}

std::vector<NamedTrained> CycleGanTrainer::parts() const {
    std::vector<NamedTrained> out;
    for (size_t i = 0; i < gan_->parts().size(); ++i) {
        const CycleGanPart& p = gan_->parts()[i];
        out.push_back({p.name, {specs_[i], p.net.get(), p.optimizer.get()}});
    }
    return out;
}

void CycleGanTrainer::checkpoint(int64_t iter) {
    state_.iteration = iter;
    NamedTensors pools;
    for (const auto& [name, t] : gan_->pool_a().state()) pools.emplace_back("A." + name, t);
    for (const auto& [name, t] : gan_->pool_b().state()) pools.emplace_back("B." + name, t);
    state_.pool = gather_rank_states(pools);  // every rank takes part; rank 0 writes
    if (!ProcessGroup::world().is_root()) return;
    save_checkpoint(latest_, parts(), state_);
    if (iter % o_.save_freq == 0)
        copy_file_atomic(latest_, (fs::path(run_dir_) / "checkpoints" / ("iter_" + std::to_string(iter) + ".safetensors")).string());
}

void CycleGanTrainer::save_weights() {
    if (!ProcessGroup::world().is_root()) return;
    for (const NamedTrained& p : parts())
        p.trained.net->save((fs::path(run_dir_) / ("net_" + p.name + ".safetensors")).string(), {{"model", p.trained.spec}});
}

// ---- setup -------------------------------------------------------------------------------------

CycleGanTrainer::CycleGanTrainer(const TrainOptions& options) : o_(options) {
    check_options(o_);
    share_machine(o_.threads, o_.device);  // the cores (and GPUs) of a machine among its ranks
    use_precision(o_);
    build_networks();
    const auto [folder_a, folder_b] = domain_folders(o_.train_set);
    data_ = std::make_unique<UnpairedData>(folder_a, folder_b,
                                           DataOptions{.scale = 1, .patch = o_.patch, .batch = o_.batch, .hflip = o_.hflip, .rotation = o_.rotation,
                                                       .workers = o_.workers, .cache_mb = o_.cache_mb, .seed = o_.seed,
                                                       .first_sample = ProcessGroup::world().rank() * o_.batch});
    build_validation();
    open_run_folder();
}

CycleGanTrainer::~CycleGanTrainer() = default;

// G_A, G_B (network_g), D_A, D_B (network_d), in the reference's order, with its init_weights
// ('normal', 0.02), seeded so that a fresh run always starts from the same weights; then
// path.pretrain_network_g/_d when given (both generators, or both discriminators, from one file).
void CycleGanTrainer::build_networks() {
    manual_seed(o_.seed);
    specs_ = {o_.model, o_.model, o_.model_d, o_.model_d};
    std::vector<std::shared_ptr<Network>> nets;
    for (size_t i = 0; i < specs_.size(); ++i) {
        nets.push_back(make_model(specs_[i]));
        init_cyclegan_weights(*nets.back());
        const std::string& pretrained = i < 2 ? o_.pretrain_g : o_.pretrain_d;
        if (!pretrained.empty()) {
            SR_CHECK(fs::exists(pretrained), "train: the starting weights '", pretrained, "' do not exist");
            nets.back()->load(pretrained, /*allow_unexpected=*/!(i < 2 ? o_.strict_load_g : o_.strict_load_d), i < 2 ? o_.param_key_g : o_.param_key_d);
        }
        nets.back()->to(o_.device);
    }
    const int64_t out_scale = network_scale(*nets[0], o_.device);
    SR_CHECK(out_scale == 1, "train: CycleGANModel's network_g must map images to images of the same size; '", o_.model, "' upscales by ", out_scale);
    const CycleGanOptions c{.lambda_a = o_.lambda_a, .lambda_b = o_.lambda_b, .lambda_identity = o_.lambda_identity, .pool_size = o_.pool_size,
                            .gan = parse_gan_type(o_.gan_type), .adam = {.lr = o_.schedule.base, .beta1 = o_.beta1, .beta2 = o_.beta2}};
    gan_ = std::make_unique<CycleGan>(nets[0], nets[1], nets[2], nets[3], c);
}

// Validation images of domain A, whole, with their domain-B ground truth of the same size when
// the set has one (PairedImageDataset: dataroot_lq is A, dataroot_gt is B).
void CycleGanTrainer::build_validation() {
    for (const DatasetOptions& d : o_.val_sets)
        for (const DatasetSample& s : dataset_samples(d, 1)) {
            SR_CHECK(!s.paths.lr_db && !s.paths.hr_db, "train: CycleGANModel validates on image folders, not LMDB (", d.phase, ")");
            const std::string input_path = s.paths.lr.empty() ? s.paths.hr : s.paths.lr;
            ValImage v{s.name, read_image(input_path, 3), Tensor()};
            if (!s.paths.hr.empty() && !s.paths.lr.empty()) {
                v.target = read_image(s.paths.hr, 3);
                SR_CHECK(v.target.shape() == v.input.shape(), "train: validation image '", input_path, "' is ", v.input.shape(), " but its ground truth '",
                         s.paths.hr, "' is ", v.target.shape(), ": CycleGANModel translates at the same size");
            }
            val_.push_back(std::move(v));
        }
    size_t scored = 0;
    for (const ValImage& v : val_) {
        if (!v.target.defined()) continue;
        const ImageScores s = score_image(v.input, v.target, o_.scale);  // "no translation" as the baseline
        result_.bicubic_psnr_y += s.psnr_y;
        result_.bicubic_ssim_y += s.ssim_y;
        ++scored;
    }
    if (scored) result_.bicubic_psnr_y /= double(scored), result_.bicubic_ssim_y /= double(scored);
    result_.baseline = "the input";
}

// Each rank's image pools from the checkpoint (as Trainer::restore_pool: a checkpoint of another
// number of ranks resumes, new ranks with empty pools; rank 0 says so).
void CycleGanTrainer::restore_pools() {
    const ProcessGroup& world = ProcessGroup::world();
    NamedTensors pool_a, pool_b;
    for (const auto& [name, t] : rank_state(state_.pool, world.rank())) (name.rfind("A.", 0) == 0 ? pool_a : pool_b).emplace_back(name.substr(2), t);
    if (!pool_a.empty()) gan_->pool_a().load_state(pool_a);
    if (!pool_b.empty()) gan_->pool_b().load_state(pool_b);
    const int saved = ranks_in_state(state_.pool);
    if (saved > 0 && saved != world.size() && world.is_root() && !o_.quiet)
        std::printf("note: the checkpoint holds the image pools of %d rank(s), this run has %d: %s\n", saved, world.size(),
                    saved < world.size() ? "the pools of the new ranks start empty" : "the pools of the missing ranks are dropped");
}

// The run folder, locked while this run uses it; continue from its checkpoint when there is one.
void CycleGanTrainer::open_run_folder() {
    const RunFolder folder = prepare_run_folder(o_, lock_);
    std::tie(run_dir_, latest_) = std::tie(folder.dir, folder.latest);
    const fs::path run(run_dir_);
    const std::string& from = folder.resume_from;
    state_.seed = o_.seed;
    const bool root = ProcessGroup::world().is_root();  // the other ranks only read the run folder
    if (!from.empty()) {
        state_ = load_checkpoint(from, parts());
        SR_CHECK(state_.seed == o_.seed, "train: ", from, " was made with seed ", state_.seed, ", this run has seed ", o_.seed,
                 ": its batches would differ. Use --seed ", state_.seed, ", or --restart, or another --name");
        restore_pools();
        if (!o_.quiet && root) std::printf("resuming %s from iteration %lld (%s)\n", run_dir_.c_str(), (long long)state_.iteration, from.c_str());
    }
    if (state_.iteration >= o_.total_iter || !root) return;  // finished already: run() leaves the folder as it is
    if (state_.iteration == 0) gan_->g_a().save((run / "net_g_A_init.safetensors").string(), {{"model", specs_[0]}, {"seed", std::to_string(o_.seed)}});
    write_file_atomic((run / "config.yaml").string(), options_yaml(o_));
    RunLogOptions log{.run_dir = run_dir_, .part_names = kPartNames, .val_columns = {}, .val_tags = {}, .print_freq = o_.print_freq,
                      .total_iter = o_.total_iter, .resume_iter = state_.iteration, .quiet = o_.quiet, .tensorboard = o_.use_tb_logger,
                      .baseline = "input"};
    const bool scored = std::any_of(val_.begin(), val_.end(), [](const ValImage& v) { return v.target.defined(); });
    if (scored)
        for (const char* m : {"psnr_y", "ssim_y", "psnr_rgb"}) {
            log.val_columns.push_back(m);
            log.val_tags.push_back(std::string("metrics/val/") + m);
        }
    log_ = std::make_unique<RunLog>(log);
}

}  // namespace sr
