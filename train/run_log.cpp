#include "train/run_log.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "core/error.h"
#include "core/file.h"
#include "core/image_io.h"
#include "core/tb_events.h"
#include "train/imresize.h"
#include "train/plot.h"

namespace sr {

namespace fs = std::filesystem;

namespace {

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

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

std::vector<double> split_csv(const std::string& row) {
    std::vector<double> v;
    std::stringstream ss(row);
    for (std::string cell; std::getline(ss, cell, ',');) v.push_back(cell.empty() ? NAN : std::strtod(cell.c_str(), nullptr));
    return v;
}

// The rows of an existing metrics.csv up to `iter` (later ones are redone after resuming).
std::vector<std::string> rows_until(const std::string& path, int64_t iter) {
    std::vector<std::string> kept;
    if (iter <= 0 || !fs::exists(path)) return kept;
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
        int64_t row_iter = 0;
        const auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), row_iter);
        if (error == std::errc() && end != line.data() && *end == ',' && row_iter <= iter) kept.push_back(line);  // damaged rows go
    }
    return kept;
}

// BasicSR's TensorBoard tags: loss terms under losses/, the discriminator's logits as they are.
std::string loss_tag(const std::string& name) { return name.rfind("l_", 0) == 0 ? "losses/" + name : name; }

}  // namespace

RunLog::RunLog(RunLogOptions options) : opt_(std::move(options)) {
    csv_path_ = (fs::path(opt_.run_dir) / "metrics.csv").string();
    std::string header = "iter,loss";
    for (const std::string& t : opt_.part_names) header += "," + t;
    header += ",lr";
    for (const std::string& v : opt_.val_columns) header += "," + v;
    header += ",time_s";
    rows_ = rows_until(csv_path_, opt_.resume_iter);
    std::string text = header + "\n";
    for (const std::string& r : rows_) text += r + "\n";
    write_file_atomic(csv_path_, text);
    interval_parts_.assign(opt_.part_names.size(), 0.0);
    first_iter_ = opt_.resume_iter + 1;
    start_ = now_seconds();
    tty_ = isatty(fileno(stderr));
    if (opt_.tensorboard) tb_ = std::make_unique<TensorBoardWriter>((fs::path(opt_.run_dir) / "tb_logger").string());
}

RunLog::~RunLog() {
    if (!opt_.quiet && tty_ && !losses_.empty()) std::fprintf(stderr, "\n");
}

double RunLog::seconds() const { return now_seconds() - start_; }

void RunLog::flush(const std::string& last_good) {
    for (const StepLosses& step : pending_) {
        const double value = step.total.item();
        SR_CHECK(std::isfinite(value), "train: the loss is ", value, " at iteration ", step.iter, "; stopping. ", last_good,
                 " Try a lower learning rate or gradient clipping (--grad-clip).");
        losses_.push_back(value);
        interval_loss_ += value;
        for (size_t t = 0; t < step.parts.size(); ++t) interval_parts_[t] += step.parts[t].item();
        ++interval_count_;
        if (step.iter % opt_.print_freq == 0 || step.iter == opt_.total_iter) write_interval_row(step);
        if (!opt_.quiet && (tty_ || step.iter % opt_.print_freq == 0)) print_progress(step.iter, step.lr);
        if (step.iter % opt_.print_freq == 0) {
            interval_loss_ = 0;
            std::fill(interval_parts_.begin(), interval_parts_.end(), 0.0);
            interval_count_ = 0;
        }
    }
    pending_.clear();
    if (tb_) tb_->flush();
}

void RunLog::write_interval_row(const StepLosses& step) {
    const double n = double(interval_count_);
    std::string row = std::to_string(step.iter) + "," + fixed(interval_loss_ / n, 6);
    for (double part : interval_parts_) row.append(",").append(fixed(part / n, 6));
    row.append(",").append(fixed(step.lr, 9)).append(opt_.val_columns.size() + 1, ',').append(fixed(seconds(), 1));
    rows_.push_back(row);
    append_to_file(csv_path_, row + "\n");
    if (!tb_) return;
    // BasicSR's SRModel logs its one pixel loss as l_pix; with named terms the total is extra.
    tb_->add_scalar(opt_.part_names.empty() ? "losses/l_pix" : "losses/l_total", interval_loss_ / n, step.iter);
    for (size_t t = 0; t < interval_parts_.size(); ++t) tb_->add_scalar(loss_tag(opt_.part_names[t]), interval_parts_[t] / n, step.iter);
}

void RunLog::print_progress(int64_t iter, double lr) {
    const double rate = double(iter - first_iter_ + 1) / std::max(seconds(), 1e-9);
    const int width = 20, filled = int(width * iter / opt_.total_iter);
    const std::string val = has_val_ ? " " + opt_.val_columns[0] + " " + fixed(last_val_, 4) : "";
    std::fprintf(stderr, "%siter %lld/%lld [%s%s] %.2f it/s ETA %s loss %.5f lr %.2e%s%s", tty_ ? "\r" : "", (long long)iter,
                 (long long)opt_.total_iter, std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), rate,
                 duration(double(opt_.total_iter - iter) / rate).c_str(), interval_loss_ / double(interval_count_), lr, val.c_str(),
                 tty_ ? "   " : "\n");
    std::fflush(stderr);
}

void RunLog::add_validation(int64_t iter, double lr, const std::vector<double>& values) {
    std::string row = std::to_string(iter);
    row.append(opt_.part_names.size() + 2, ',').append(fixed(lr, 9));
    for (double v : values) row.append(",").append(fixed(v, 5));
    row.append(",").append(fixed(seconds(), 1));
    rows_.push_back(row);
    append_to_file(csv_path_, row + "\n");
    if (!values.empty()) last_val_ = values[0], has_val_ = true;
    if (tb_) {
        for (size_t i = 0; i < values.size() && i < opt_.val_tags.size(); ++i) tb_->add_scalar(opt_.val_tags[i], values[i], iter);
        tb_->flush();
    }
}

// curves.png: training loss and the first validation value against the iteration; for GAN
// training also the discriminator's losses and its mean logits on real and generated images.
void RunLog::draw_curves(double bicubic_first_value) const {
    const std::vector<std::string>& parts = opt_.part_names;
    const uint32_t palette[] = {0xff7f0e, 0x2ca02c, 0x9467bd, 0x8c564b, 0xe377c2, 0x17becf, 0xbcbd22, 0x7f7f7f};
    const std::string val_name = opt_.val_columns.empty() ? "validation" : opt_.val_columns[0];
    Series loss{"loss (interval mean)", {}, {}, 0x1f77b4}, val{"model (" + val_name + ")", {}, {}, 0xd62728};
    std::vector<Series> part_series;
    for (size_t i = 0; i < parts.size(); ++i) part_series.push_back({parts[i], {}, {}, palette[i % 8]});
    auto add_point = [](Series& s, double x, double y) {
        if (std::isnan(y)) return;
        s.x.push_back(x);
        s.y.push_back(y);
    };
    for (const std::string& row : rows_) {
        const std::vector<double> v = split_csv(row);
        if (v.size() < 3 + parts.size() + opt_.val_columns.size()) continue;
        add_point(loss, v[0], v[1]);
        for (size_t i = 0; i < parts.size(); ++i) add_point(part_series[i], v[0], v[2 + i]);
        if (!opt_.val_columns.empty()) add_point(val, v[0], v[3 + parts.size()]);
    }
    Series base{opt_.baseline, {}, {}, 0x555555, true};
    if (!val.x.empty()) {
        base.x = {0, std::max(val.x.back(), loss.x.empty() ? 1.0 : loss.x.back())};
        base.y = {bicubic_first_value, bicubic_first_value};
    }
    Chart losses{"Training loss", "iteration", "loss", {loss}, true};
    Chart disc{"Discriminator", "iteration", "loss", {}, false}, logits{"Discriminator logits (mean)", "iteration", "logit", {}, false};
    for (const Series& s : part_series) {
        if (s.label.rfind("out_d_", 0) == 0) logits.series.push_back(s);
        else if (s.label.rfind("l_d_", 0) == 0) disc.series.push_back(s);
        else if (s.label != "l_g_pix" || parts.size() > 1) losses.series.push_back(s);
    }
    std::vector<Chart> charts = {losses, {"Validation " + val_name, "iteration", "", {val, base}, false}};
    if (!disc.series.empty()) charts.push_back(disc);
    if (!logits.series.empty()) charts.push_back(logits);
    write_png((fs::path(opt_.run_dir) / "curves.png").string(), draw_charts(charts));
}

void draw_samples(const std::string& path, const std::vector<Tensor>& hrs, const std::vector<Tensor>& srs,
                  const std::vector<Tensor>& bicubics, int64_t scale, const SampleCaptions& captions) {
    std::vector<std::vector<Tensor>> rows;
    const int64_t hr_crop = 192;
    for (size_t i = 0; i < hrs.size() && i < 3; ++i) {
        const int64_t H = hrs[i].size(1), W = hrs[i].size(2);
        const int64_t c = std::min({hr_crop / scale * scale, H / scale * scale, W / scale * scale});
        const int64_t y = (H - c) / 2 / scale * scale, x = (W - c) / 2 / scale * scale;
        auto cut = [&](const Tensor& t) { return t.slice(1, y, y + c).slice(2, x, x + c).contiguous(); };
        rows.push_back({cut(quantize_u8(bicubics[i])), cut(quantize_u8(srs[i])), cut(hrs[i])});
    }
    write_png(path, image_grid(rows, {captions.baseline, captions.output, captions.target}));
}

}  // namespace sr
