// Pictures of a training run, drawn by srforge itself (no plotting library): line charts for
// curves.png and image grids for samples/iter_N.png. Text uses stb_easy_font (Debian libstb-dev).
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"

namespace sr {

struct Series {
    std::string label;
    std::vector<double> x, y;
    uint32_t color = 0x1f77b4;  // 0xRRGGBB
    bool dashed = false;
};

struct Chart {
    std::string title, x_label, y_label;
    std::vector<Series> series;
    bool log_y = false;
};

// Charts side by side, each width x height pixels: an RGB image [3, height, width * n] in [0, 1].
Tensor draw_charts(const std::vector<Chart>& charts, int64_t width = 560, int64_t height = 400);

// Images [3, H, W] of one height placed left to right with a gap, rows stacked (all rows the same
// width); captions drawn above each column of the first row.
Tensor image_grid(const std::vector<std::vector<Tensor>>& rows, const std::vector<std::string>& captions, int64_t gap = 4);

}  // namespace sr
