// The training loop, as the papers describe it, in BasicSR's shape: SRModel (PSNR-oriented:
// EDSR, RDN, RRDBNet-PSNR, ...), SRGANModel/ESRGANModel (a discriminator as well) and
// RealESRNetModel/RealESRGANModel (LR made from HR by the degradations) differ only in their step.
//
//   for iteration i = 1 .. total_iter:
//       lr_i = schedule(i)                                  (train/schedule.h)
//       (LR, HR) = batch i: random aligned crops + flips    (train/data.h; train/degrade.h for Real-*)
//       generator step:     loss = pixel(G(LR), HR) [+ perceptual + gan_weight * gan(D(G(LR)) is real)]
//                           (D frozen); backward; clip; Adam step; EMA update
//       discriminator step: gan(D(HR) is real) + gan(D(G(LR) detached) is fake); backward; its Adam step
//       every val_freq: validate on whole images of every validation set (EMA weights when
//                       enabled) with val.metrics; keep the best; curves.png and a sample grid
//       every save_checkpoint_freq: checkpoint (train/checkpoint.h)
//
// A run lives in out_dir/name: config.yaml (the options used, in BasicSR's layout), metrics.csv,
// curves.png, samples/iter_N.png, checkpoints/latest.safetensors (and iter_N.safetensors),
// net_g_init (the starting weights), net_g_best, net_g_latest and net_g_ema weights, and with
// use_tb_logger tb_logger/ (TensorBoard). Starting a run whose folder holds a checkpoint
// continues it (auto-resume) so exactly that every loss after the restart equals the
// uninterrupted run's. Ctrl-C saves a checkpoint and stops cleanly; a NaN or infinite loss stops
// the run with the last good checkpoint left as it was. Under mpirun the ranks train one model
// together (train/distributed.h): each its share of the batch, gradients averaged, rank 0 alone
// writing the run folder.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ops/gan_loss.h"
#include "ops/gemm.h"
#include "train/checkpoint.h"
#include "train/metrics.h"
#include "train/options.h"

namespace sr {

class DeviceBatches;
class FolderLock;
class GradientAverager;
class Ema;
class Network;
class PairPool;
class PerceptualLoss;
class PixelLoss;
class RunLog;
class TrainData;
struct StepLosses;

struct TrainResult {
    int64_t iterations = 0;             // the last iteration done
    bool interrupted = false;           // stopped by Ctrl-C
    bool validated = false;             // the scores below come from a validation, at validated_iter
    int64_t validated_iter = 0;
    bool already_finished = false;      // the run folder held a finished run: nothing was done
    std::vector<double> losses;         // the loss of every iteration this call ran
    double psnr_y = 0, ssim_y = 0, psnr_rgb = 0;        // last validation, first set (crop_border = scale)
    double bicubic_psnr_y = 0, bicubic_ssim_y = 0;      // the baseline on the same images
    std::string baseline = "bicubic";                   // what that baseline is (CycleGAN: its input)
    std::vector<std::pair<std::string, double>> metrics;  // every val.metrics value of the last validation
    double seconds = 0;
};

class Trainer {
public:
    // Setup: checks the options, builds the networks, data, losses and optimisers, and opens (or
    // resumes) the run folder. Throws sr::Error for bad options or data.
    explicit Trainer(const TrainOptions& options);
    ~Trainer();
    TrainResult run();

private:
    struct Batch {
        Tensor lq, gt, gt_usm;  // gt_usm: the sharpened target of Real-ESRGAN runs
    };
    struct ValImage {
        std::string name;
        Tensor lr, hr, bicubic;  // hr undefined: no ground truth
    };
    struct ValSet {
        std::string name;
        std::vector<ValImage> images;
    };

    void build_networks();
    void build_data();
    void build_validation();
    void build_losses();
    void open_run_folder();
    void restore_pool();
    Batch next_batch(int64_t iter);
    Tensor generator_step(int64_t iter, const Batch& batch, StepLosses& losses);
    void discriminator_step(int64_t iter, const Batch& batch, const Tensor& sr, StepLosses& losses);
    bool average_over_ranks(StepLosses& losses) const;
    void report_overlap();
    struct SetScores {
        std::vector<double> metrics;  // metrics_' means, in order
        ImageScores standard;         // PSNR-Y, SSIM-Y, PSNR-RGB (crop_border = scale)
        std::vector<Tensor> srs, hrs, bicubics;  // of the images with ground truth
    };
    SetScores validate_set(const ValSet& set, int64_t iter, bool first);
    void validate(int64_t iter);
    void checkpoint(int64_t iter);
    void save_weights();

    TrainOptions o_;
    GemmPrecisionScope precision_scope_;  // use_precision's CPU setting lasts as long as this trainer
    std::shared_ptr<Network> net_g_, net_g_val_, net_d_;
    std::unique_ptr<Adam> optim_g_, optim_d_;
    std::unique_ptr<GradientAverager> averager_g_, averager_d_;  // backward, gradients averaged over the ranks
    std::unique_ptr<Ema> ema_;
    std::unique_ptr<PixelLoss> pixel_loss_;
    std::unique_ptr<PerceptualLoss> perceptual_;
    GanType gan_type_ = GanType::Vanilla;
    std::unique_ptr<TrainData> data_;
    std::unique_ptr<DeviceBatches> batches_;
    std::unique_ptr<PairPool> pool_;
    std::vector<ValSet> val_sets_;
    std::vector<MetricOptions> metrics_;  // val.metrics, or PSNR-Y, SSIM-Y and PSNR-RGB
    double bicubic_first_metric_ = 0;     // bicubic's score by the first metric on the first set
    std::vector<std::string> part_names_;
    std::unique_ptr<RunLog> log_;
    RunState state_;
    std::string run_dir_, latest_;
    std::unique_ptr<FolderLock> lock_;  // held while the run uses its folder
    TrainResult result_;
};

// Runs (or continues) a training run: Trainer(options).run(), or CycleGanTrainer's
// (train/cyclegan_trainer.h) for CycleGANModel.
TrainResult train(const TrainOptions& options);

// Has Ctrl-C asked the running loop to checkpoint and stop?
bool stop_requested();

// What every training loop (Trainer's, CycleGanTrainer's) does around an iteration, in one place:
// whether iteration `iter` validates and saves (the last one does both; a stop saves), the
// message of a stop, and, after the loop, the result of a run that had nothing left to do.
struct IterationPlan {
    bool validating, saving;
};
IterationPlan plan_iteration(const TrainOptions& options, int64_t iter, bool stop);
void report_stop(TrainResult& result, int64_t iter, bool quiet);
bool finished_already(TrainResult& result, const RunState& state);  // true (and result says so) when no iteration ran

// The checkpoint a run continues from: path.resume_state, else (unless --restart) the run folder's
// latest, else (a folder whose latest was lost) its newest checkpoints/iter_N; empty for a fresh start.
std::string checkpoint_to_resume(const TrainOptions& options, const std::string& latest);

// The run folder OUT/NAME of every training loop: rank 0 creates it (samples/, checkpoints/),
// locks it into `lock` for the run and clears temporary files a killed run left; the other ranks
// only read it. resume_from: checkpoint_to_resume's answer ("" for a fresh run).
struct RunFolder {
    std::string dir, latest, resume_from;
};
RunFolder prepare_run_folder(const TrainOptions& options, std::unique_ptr<FolderLock>& lock);

// The math of this run's convolutions and products: on the GPU fp32, tf32 or bf16 (core/gpu.h),
// on the CPU fp32 or bf16 (ops/gemm.h).
void use_precision(const TrainOptions& options);

// Ctrl-C handling: the first SIGINT asks the running loop to checkpoint and stop (train() then
// returns with interrupted set); a second one ends the process.
void install_interrupt_handler();

}  // namespace sr
