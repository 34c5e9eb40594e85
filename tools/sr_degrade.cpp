// sr_degrade: shows what Real-ESRGAN's second-order degradations (train/degrade.h) do to a photo.
//
//   sr_degrade --input photo.png --output out/ [--count 4] [--scale 4] [--seed 0] [--gt-size 0]
//   sr_degrade --input DIV2K_valid_HR/ --output out/ --count 2 --gt-size 256
//
// For every input image (a file, or every PNG/JPEG/BMP in a folder), cropped to a multiple of the
// scale, it writes `count` degraded low-resolution examples NAME_lq_K.png and the USM-sharpened
// ground truth NAME_gt_usm.png (the target Real-ESRGAN trains towards), and prints what was drawn for
// each example: kernels, resizes, noise, JPEG qualities and the order of the last steps. Each example
// is one degrade_batch call of a batch of one, with iteration = image number x count + K, so
// `--seed S` and the printed iteration reproduce it exactly. With --gt-size G (a multiple of the scale)
// each example is a paired random crop: NAME_lq_K.png (G / scale), NAME_gt_K.png, NAME_gt_usm_K.png (G).
//
// Bad arguments or an unreadable image: one line on stderr, exit status 1.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli.h"
#include "core/image_io.h"
#include "train/degrade.h"

using namespace sr;
namespace fs = std::filesystem;

namespace {

struct DegradeArgs {
    std::string input, output;
    int64_t scale = 4, count = 4, gt_size = 0;
    uint64_t seed = 0;
};

DegradeArgs parse(int argc, char** argv) {
    DegradeArgs o;
    int64_t seed = 0;
    Cli cli("sr_degrade", "--input IMAGE|DIR --output DIR [--scale 4] [--count 4] [--seed 0] [--gt-size 0]",
            "Writes Real-ESRGAN-degraded low-resolution examples of photos, and says what was drawn for each.");
    cli.string_flag("--input", "IMAGE|DIR", "a PNG, JPEG or BMP image, or a folder of them", o.input);
    cli.string_flag("--output", "DIR", "the folder to write NAME_lq_K.png and NAME_gt_usm.png into", o.output);
    cli.integer_flag("--scale", "S", "the downscaling factor", o.scale, 1, 16);
    cli.integer_flag("--count", "K", "degraded examples per image", o.count, 1, 1000);
    cli.integer_flag("--seed", "N", "the seed; with the printed iteration it reproduces an example", seed);
    cli.integer_flag("--gt-size", "G", "paired random crops of G x G HR pixels (a multiple of the scale); 0: whole images",
                     o.gt_size);
    cli.parse(argc, argv);
    o.seed = static_cast<uint64_t>(seed);
    SR_CHECK(!o.input.empty() && !o.output.empty(), "--input and --output are required (see --help)");
    SR_CHECK(o.gt_size % o.scale == 0, "--gt-size must be a multiple of the scale ", o.scale, ", got ", o.gt_size);
    return o;
}

bool is_image(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

std::vector<fs::path> inputs(const std::string& input) {
    std::vector<fs::path> files;
    if (fs::is_directory(input)) {
        for (const auto& entry : fs::directory_iterator(input))
            if (entry.is_regular_file() && is_image(entry.path())) files.push_back(entry.path());
        std::sort(files.begin(), files.end());
        SR_CHECK(!files.empty(), "no PNG, JPEG or BMP images in '", input, "'");
    } else {
        SR_CHECK(fs::exists(input), "no such file or folder: '", input, "'");
        files.emplace_back(input);
    }
    return files;
}

// [3, H, W] -> [1, 3, H', W'] with H', W' the largest multiples of the scale (top-left part).
Tensor ground_truth(const fs::path& file, int64_t scale, int64_t gt_size) {
    const Tensor image = read_image(file.string(), 3);
    const int64_t h = image.size(1) / scale * scale, w = image.size(2) / scale * scale;
    SR_CHECK(h >= std::max<int64_t>(scale, gt_size) && w >= std::max<int64_t>(scale, gt_size), "'", file.string(), "' (",
             image.size(2), "x", image.size(1), ") is too small for x", scale, gt_size ? " and --gt-size " : "",
             gt_size ? std::to_string(gt_size) : std::string());
    return image.slice(1, 0, h).slice(2, 0, w).contiguous().reshape({1, 3, h, w});
}

// Writes args.count degraded examples of image number f (and its sharpened ground truth), and
// prints what was drawn for each.
void degrade_image(const fs::path& file, size_t f, const DegradeArgs& args) {
    DegradeOptions options;
    options.scale = args.scale;
    const Tensor gt = ground_truth(file, args.scale, args.gt_size);
    const std::string stem = file.stem().string();
    const fs::path out = args.output;
    std::printf("%s (%lldx%lld, x%lld)\n", file.string().c_str(), (long long)gt.size(3), (long long)gt.size(2),
                (long long)args.scale);
    for (int64_t k = 0; k < args.count; ++k) {
        const int64_t iteration = int64_t(f) * args.count + k;
        const DegradedBatch d = degrade_batch(gt, options, args.seed, iteration, args.gt_size);
        const std::string tag = std::to_string(k).insert(0, 1, '_').append(".png");  // "_K.png"
        const fs::path lq = out / (stem + "_lq" + tag);
        write_png(lq.string(), d.lq.reshape({3, d.lq.size(2), d.lq.size(3)}));
        std::printf(" example %lld (seed %llu, iteration %lld) -> %s (%lldx%lld)", (long long)k, (unsigned long long)args.seed,
                    (long long)iteration, lq.string().c_str(), (long long)d.lq.size(3), (long long)d.lq.size(2));
        if (args.gt_size > 0) {
            write_png((out / (stem + "_gt" + tag)).string(), d.gt.reshape({3, args.gt_size, args.gt_size}));
            write_png((out / (stem + "_gt_usm" + tag)).string(), d.gt_usm.reshape({3, args.gt_size, args.gt_size}));
            std::printf(", crop at (%lld, %lld) in LQ pixels", (long long)d.record.crop_left, (long long)d.record.crop_top);
        } else if (k == 0) {
            write_png((out / (stem + "_gt_usm.png")).string(), d.gt_usm.reshape({3, gt.size(2), gt.size(3)}));
        }
        std::printf("\n%s\n", describe(d.record, 0).c_str());
    }
}

}  // namespace

int main(int argc, char** argv) {
    return run_tool("sr_degrade", [&] {
        const DegradeArgs args = parse(argc, argv);
        const std::vector<fs::path> files = inputs(args.input);
        fs::create_directories(args.output);
        for (size_t f = 0; f < files.size(); ++f) degrade_image(files[f], f, args);
        return 0;
    });
}
