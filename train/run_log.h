// What a training run leaves to read: metrics.csv (one row per print interval and per
// validation), the progress line on stderr, curves.png, samples/iter_N.png, and, with
// logger.use_tb_logger, TensorBoard event files under RUN/tb_logger with BasicSR's tag names
// (losses/l_pix, metrics/Set5/psnr, ...).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sr {

class TensorBoardWriter;

// One iteration's losses, kept as tensors until they are read: reading a GPU value waits for the
// GPU, so there they are read only when a line is printed, before validating and checkpointing.
struct StepLosses {
    int64_t iter = 0;
    double lr = 0;
    Tensor total;
    std::vector<Tensor> parts;  // one per part name of the log
};

struct RunLogOptions {
    std::string run_dir;
    std::vector<std::string> part_names;   // loss terms beside the total (l_g_pix, l_d_real, ...)
    std::vector<std::string> val_columns;  // validation values, e.g. psnr_y, ssim_y, psnr_rgb
    std::vector<std::string> val_tags;     // their TensorBoard tags (metrics/SET/NAME)
    int64_t print_freq = 20, total_iter = 1;
    int64_t resume_iter = 0;               // rows after it (from before a crash) are dropped
    bool quiet = false, tensorboard = false;
    std::string baseline = "bicubic";      // the dashed line of curves.png: what the model must beat
};

class RunLog {
public:
    explicit RunLog(RunLogOptions options);
    ~RunLog();

    void add(StepLosses step) { pending_.push_back(std::move(step)); }
    // Reads the pending losses: metrics.csv rows and the progress line every print_freq
    // iterations. A NaN or infinite loss throws, naming the iteration and `last_good`.
    void flush(const std::string& last_good);
    // One validation row (values in val_columns order) and the pictures of it.
    void add_validation(int64_t iter, double lr, const std::vector<double>& values);
    void draw_curves(double bicubic_first_value) const;

    const std::vector<double>& losses() const { return losses_; }  // of every iteration read so far
    double seconds() const;

private:
    void write_interval_row(const StepLosses& step);
    void print_progress(int64_t iter, double lr);

    RunLogOptions opt_;
    std::string csv_path_;
    std::vector<std::string> rows_;
    std::vector<StepLosses> pending_;
    std::vector<double> losses_;
    double interval_loss_ = 0;
    std::vector<double> interval_parts_;
    int64_t interval_count_ = 0, first_iter_ = 0;
    double last_val_ = 0, start_ = 0;
    bool has_val_ = false;
    bool tty_ = false;
    std::unique_ptr<TensorBoardWriter> tb_;
};

// samples/iter_N.png: for the first validation images, a crop as bicubic | SR | HR.
// samples/iter_N.png: centre crops of up to three validation images, baseline | output | target.
struct SampleCaptions {
    std::string baseline = "bicubic", output = "SR", target = "HR";
};
void draw_samples(const std::string& path, const std::vector<Tensor>& hrs, const std::vector<Tensor>& srs,
                  const std::vector<Tensor>& bicubics, int64_t scale, const SampleCaptions& captions = {});

}  // namespace sr
