#include "train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "autograd/node.h"
#include "core/factory.h"
#include "ops/concat.h"
#include "ops/layout.h"

#define STB_EASY_FONT_IMPLEMENTATION
#include <stb_easy_font.h>

namespace sr {

namespace {

// A plain RGB canvas with pixel-level drawing.
class Canvas {
public:
    Canvas(int64_t w, int64_t h) : w_(w), h_(h), px_(static_cast<size_t>(3 * w * h), 1.0f) {}

    void set(int64_t x, int64_t y, uint32_t rgb) {
        if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
        for (int c = 0; c < 3; ++c) px_[(c * h_ + y) * w_ + x] = float((rgb >> (16 - 8 * c)) & 0xFF) / 255.0f;
    }
    void rect(int64_t x0, int64_t y0, int64_t x1, int64_t y1, uint32_t rgb) {
        for (int64_t y = y0; y < y1; ++y)
            for (int64_t x = x0; x < x1; ++x) set(x, y, rgb);
    }
    // A 2-pixel wide line (Bresenham), optionally dashed.
    void line(double x0, double y0, double x1, double y1, uint32_t rgb, bool dashed = false) {
        const double len = std::hypot(x1 - x0, y1 - y0);
        const int steps = std::max(1, int(std::ceil(len)));
        for (int i = 0; i <= steps; ++i) {
            if (dashed && (i / 6) % 2 == 1) continue;
            const double t = double(i) / steps;
            const int64_t x = std::lround(x0 + t * (x1 - x0)), y = std::lround(y0 + t * (y1 - y0));
            rect(x, y, x + 2, y + 2, rgb);
        }
    }
    // Text with stb_easy_font at `scale` (its glyphs are about 7 pixels tall).
    void text(double x, double y, const std::string& s, uint32_t rgb, int scale = 1) {
        static char buffer[200000];
        const int quads = stb_easy_font_print(0, 0, const_cast<char*>(s.c_str()), nullptr, buffer, sizeof buffer);
        const float* v = reinterpret_cast<const float*>(buffer);
        for (int q = 0; q < quads; ++q) {
            const float* a = v + q * 16;  // 4 vertices of (x, y, z, color)
            const float qx0 = a[0], qy0 = a[1], qx1 = a[8], qy1 = a[9];
            rect(std::lround(x + qx0 * scale), std::lround(y + qy0 * scale), std::lround(x + qx1 * scale), std::lround(y + qy1 * scale), rgb);
        }
    }
    static int text_width(const std::string& s) { return stb_easy_font_width(const_cast<char*>(s.c_str())); }

    Tensor tensor() const {
        std::vector<double> v(px_.begin(), px_.end());
        return from_vector(v, {3, h_, w_});
    }

private:
    int64_t w_, h_;
    std::vector<float> px_;
};

// "Nice" tick positions over [lo, hi]: multiples of 1, 2 or 5 x 10^k, about four intervals.
std::vector<double> nice_ticks(double lo, double hi, double* step_out) {
    const double raw = (hi - lo) / 4, mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = 10 * mag;
    for (double m : {1.0, 2.0, 5.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    std::vector<double> ticks;
    for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step; t += step) ticks.push_back(std::abs(t) < 1e-12 * step ? 0 : t);
    *step_out = step;
    return ticks;
}

std::string tick_label(double v, double step) {
    char buf[32];
    const double a = std::abs(v);
    if (a != 0 && (a < 1e-3 || a >= 1e6)) std::snprintf(buf, sizeof buf, "%.0e", v);
    else std::snprintf(buf, sizeof buf, "%.*f", std::max(0, int(-std::floor(std::log10(step) + 1e-9))), v);
    return buf;
}

void draw_chart(Canvas& cv, int64_t ox, const Chart& chart, int64_t W, int64_t H) {
    const int64_t left = 70, right = 16, top = 36, bottom = 46;
    const int64_t pw = W - left - right, ph = H - top - bottom;
    double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min, y_min = x_min, y_max = -x_min;
    auto ty = [&](double y) { return chart.log_y ? std::log10(std::max(y, 1e-12)) : y; };
    for (const Series& s : chart.series)
        for (size_t i = 0; i < s.x.size(); ++i) {
            if (!std::isfinite(s.y[i])) continue;
            x_min = std::min(x_min, s.x[i]);
            x_max = std::max(x_max, s.x[i]);
            y_min = std::min(y_min, ty(s.y[i]));
            y_max = std::max(y_max, ty(s.y[i]));
        }
    cv.text(double(ox + left), 12, chart.title, 0x000000, 2);
    cv.rect(ox + left, top, ox + left + pw, top + 1, 0xbbbbbb);
    cv.rect(ox + left, top + ph, ox + left + pw + 1, top + ph + 1, 0x000000);
    cv.rect(ox + left, top, ox + left + 1, top + ph, 0x000000);
    if (!std::isfinite(x_min)) {
        cv.text(double(ox + left + 20), double(top + ph / 2), "no data yet", 0x888888, 2);
        return;
    }
    if (x_min >= 0 && x_min < 0.2 * x_max) x_min = 0;  // iterations: start the axis at 0
    if (x_max == x_min) x_max = x_min + 1;
    if (y_max == y_min) y_max = y_min + 1;
    const double pad = 0.05 * (y_max - y_min);
    y_min -= pad;
    y_max += pad;
    auto px = [&](double x) { return double(ox + left) + (x - x_min) / (x_max - x_min) * double(pw); };
    auto py = [&](double y) { return double(top + ph) - (ty(y) - y_min) / (y_max - y_min) * double(ph); };
    // Grid and tick labels at round values; on a log axis at 1, 2, 5 x 10^k.
    std::vector<double> y_ticks;
    double y_step = 1;
    if (chart.log_y) {
        for (int e = int(std::floor(y_min)); e <= int(std::ceil(y_max)); ++e)
            for (double m : {1.0, 2.0, 5.0}) {
                const double v = m * std::pow(10.0, e);
                if (std::log10(v) >= y_min && std::log10(v) <= y_max) y_ticks.push_back(v);
            }
    } else {
        y_ticks = nice_ticks(y_min, y_max, &y_step);
    }
    for (double v : y_ticks) {
        const double yy = py(v);
        cv.rect(ox + left + 1, std::lround(yy), ox + left + pw, std::lround(yy) + 1, 0xe4e4e4);
        const std::string label = chart.log_y ? tick_label(v, v) : tick_label(v, y_step);
        cv.text(double(ox + left - 8 - Canvas::text_width(label)), yy - 3, label, 0x333333);
    }
    double x_step = 1;
    for (double v : nice_ticks(x_min, x_max, &x_step)) {
        const std::string label = tick_label(v, std::max(x_step, 1.0));
        cv.rect(std::lround(px(v)), top + ph, std::lround(px(v)) + 1, top + ph + 5, 0x000000);
        cv.text(px(v) - Canvas::text_width(label) / 2.0, double(top + ph + 8), label, 0x333333);
    }
    cv.text(double(ox + left + pw / 2 - Canvas::text_width(chart.x_label) / 2), double(top + ph + 24), chart.x_label, 0x000000);
    // The legend goes in the right-hand corner (top or bottom) that the data leaves emptier.
    int upper = 0, lower = 0;
    for (const Series& s : chart.series)
        for (size_t i = 0; i < s.x.size(); ++i)
            if (std::isfinite(s.y[i]) && px(s.x[i]) > double(ox + left) + 0.55 * double(pw)) {
                const double fy = (double(top + ph) - py(s.y[i])) / double(ph);
                upper += fy > 0.65;
                lower += fy < 0.35;
            }
    const double legend_top = upper <= lower ? double(top + 8) : double(top + ph) - 8 - 14.0 * double(chart.series.size());
    int legend = 0;
    for (const Series& s : chart.series) {
        for (size_t i = 1; i < s.x.size(); ++i)
            if (std::isfinite(s.y[i - 1]) && std::isfinite(s.y[i]))
                cv.line(px(s.x[i - 1]), py(s.y[i - 1]), px(s.x[i]), py(s.y[i]), s.color, s.dashed);
        if (s.x.size() == 1 && std::isfinite(s.y[0])) cv.rect(std::lround(px(s.x[0])) - 2, std::lround(py(s.y[0])) - 2,
                                                           std::lround(px(s.x[0])) + 3, std::lround(py(s.y[0])) + 3, s.color);
        const double lx = double(ox + left + pw - 170), ly = legend_top + 14.0 * legend++;
        cv.line(lx, ly + 3, lx + 20, ly + 3, s.color, s.dashed);
        cv.text(lx + 26, ly, s.label, 0x000000);
    }
    cv.text(double(ox + 6), double(top - 14), chart.y_label + (chart.log_y ? " (log)" : ""), 0x000000);
}

}  // namespace

Tensor draw_charts(const std::vector<Chart>& charts, int64_t width, int64_t height) {
    Canvas cv(width * static_cast<int64_t>(charts.size()), height);
    for (size_t i = 0; i < charts.size(); ++i) draw_chart(cv, static_cast<int64_t>(i) * width, charts[i], width, height);
    return cv.tensor();
}

Tensor image_grid(const std::vector<std::vector<Tensor>>& rows, const std::vector<std::string>& captions, int64_t gap) {
    SR_CHECK(!rows.empty() && !rows[0].empty(), "image_grid: no images");
    const int64_t caption_h = captions.empty() ? 0 : 22;
    std::vector<int64_t> widths;
    int64_t total_w = gap, total_h = caption_h + gap;
    for (const Tensor& t : rows[0]) {
        widths.push_back(t.size(2));
        total_w += t.size(2) + gap;
    }
    for (const auto& row : rows) total_h += row[0].size(1) + gap;
    Tensor grid = ones({3, total_h, total_w});
    NoGradGuard no_grad;
    int64_t y = caption_h + gap;
    for (const auto& row : rows) {
        SR_CHECK(row.size() == widths.size(), "image_grid: rows must have the same number of images");
        int64_t x = gap;
        for (size_t i = 0; i < row.size(); ++i) {
            const Tensor img = row[i].to(DType::F32).to(Device::cpu());
            SR_CHECK(img.size(2) == widths[i] && img.size(1) == row[0].size(1), "image_grid: image ", i, " of a row has shape ",
                     img.shape());
            copy_(grid.slice(1, y, y + img.size(1)).slice(2, x, x + img.size(2)), img.slice(0, 0, 3));
            x += img.size(2) + gap;
        }
        y += row[0].size(1) + gap;
    }
    if (!captions.empty()) {
        // Captions: draw into a canvas strip and paste it on top.
        Canvas cv(total_w, caption_h);
        int64_t x = gap;
        for (size_t i = 0; i < captions.size() && i < widths.size(); ++i) {
            cv.text(double(x + widths[i] / 2 - Canvas::text_width(captions[i])), 4, captions[i], 0x000000, 2);
            x += widths[i] + gap;
        }
        copy_(grid.slice(1, 0, caption_h), cv.tensor());
    }
    return grid;
}

}  // namespace sr
