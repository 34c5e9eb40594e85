// sr_grid: puts crops of images side by side, one row per scene, for comparing methods
// (docs/RESULTS.md's sample grids).
//
//   sr_grid --output grid.png --captions "input,EDSR,HR" --size 160
//           --rows "300,200:lr/0801x2.png,edsr/0801x2.png,HR/0801.png;120,40:lr/0802x2.png,..."
//
// Each row is "X,Y:" and its images. The images of a row are brought to the size of its largest
// one by repeating pixels (an x2 LR image shows its pixels as 2 x 2 blocks; the factor must be a
// whole number), then each gives the SIZE x SIZE square at (X, Y) of that size. Captions go above
// the columns; a square that reaches out of the images is moved inside them. Bad arguments,
// unreadable images or squares larger than an image: one line, exit status 1.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "core/image_io.h"
#include "ops/upsample.h"
#include "train/plot.h"

using namespace sr;

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t end; (end = text.find(sep, start)) != std::string::npos; start = end + 1) parts.push_back(text.substr(start, end - start));
    parts.push_back(text.substr(start));
    return parts;
}

int64_t coordinate(const std::string& text, const std::string& row) {
    SR_CHECK(!text.empty() && text.find_first_not_of("0123456789") == std::string::npos && text.size() < 7, "--rows: '", row,
             "' must start with X,Y: (pixel coordinates), got '", text, "'");
    return std::stoll(text);
}

// One row: its images, each brought to the largest one's size, cropped.
std::vector<Tensor> grid_row(const std::string& row, int64_t size) {
    const size_t colon = row.find(':');
    SR_CHECK(colon != std::string::npos, "--rows: '", row, "' must be X,Y:image,image,...");
    const std::vector<std::string> at = split(row.substr(0, colon), ','), files = split(row.substr(colon + 1), ',');
    SR_CHECK(at.size() == 2, "--rows: '", row, "' must start with X,Y:");
    const int64_t x = coordinate(at[0], row), y = coordinate(at[1], row);
    std::vector<Tensor> images;
    int64_t H = 0, W = 0;
    for (const std::string& f : files) {
        images.push_back(read_image(f, 3));
        H = std::max(H, images.back().size(1));
        W = std::max(W, images.back().size(2));
    }
    SR_CHECK(size <= W && size <= H, "--rows: a ", size, " x ", size, " square does not fit in ", W, " x ", H, " (give a smaller --size)");
    const int64_t left = std::min(x, W - size), top = std::min(y, H - size);  // moved inside the image where it reaches out
    std::vector<Tensor> crops;
    for (size_t i = 0; i < images.size(); ++i) {
        Tensor im = images[i];
        const int64_t f = H / im.size(1);
        SR_CHECK(f * im.size(1) == H && f * im.size(2) == W, "sr_grid: '", files[i], "' (", im.size(2), " x ", im.size(1),
                 ") is not a whole-number fraction of the row's largest image (", W, " x ", H, ")");
        if (f > 1) im = upsample_nearest(im.reshape({1, 3, im.size(1), im.size(2)}), f).reshape({3, H, W});
        crops.push_back(im.slice(1, top, top + size).slice(2, left, left + size).contiguous());
    }
    return crops;
}

}  // namespace

int main(int argc, char** argv) {
    return run_tool("sr_grid", [&] {
        std::string output, captions, rows;
        int64_t size = 160;
        Cli cli("sr_grid", "--output FILE.png --rows \"X,Y:IMAGE,IMAGE,...;X,Y:...\" [--captions A,B,...] [--size 160]",
                "Puts the same square of several images side by side, one row per scene.");
        cli.string_flag("--output", "FILE.png", "the grid to write", output);
        cli.string_flag("--rows", "ROWS", "rows separated by ';', each X,Y: then its images separated by ','", rows);
        cli.string_flag("--captions", "LIST", "the columns' captions, separated by ','", captions);
        cli.integer_flag("--size", "S", "the side of each square, in pixels of the row's largest image", size, 8, 4096);
        cli.parse(argc, argv);
        SR_CHECK(!output.empty() && !rows.empty(), "--output and --rows are required (see --help)");
        std::vector<std::vector<Tensor>> grid;
        for (const std::string& row : split(rows, ';')) grid.push_back(grid_row(row, size));
        for (const auto& r : grid) SR_CHECK(r.size() == grid[0].size(), "--rows: every row must have as many images as the first");
        const std::vector<std::string> names = captions.empty() ? std::vector<std::string>{} : split(captions, ',');
        SR_CHECK(names.empty() || names.size() == grid[0].size(), "--captions: ", names.size(), " captions for ", grid[0].size(), " columns");
        write_png(output, image_grid(grid, names));
        std::printf("%s: %zu rows of %zu\n", output.c_str(), grid.size(), grid[0].size());
        return 0;
    });
}
