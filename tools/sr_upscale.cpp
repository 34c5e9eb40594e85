// sr_upscale: upscales image files with a trained network.
//
//   sr_upscale --model rrdbnet --weights RealESRGAN_x4plus.safetensors --input photo.png --output big.png
//   sr_upscale --model edsr --weights edsr.safetensors --input folder/ --output out/ [--tile 256]
//              [--tile-pad 16] [--self-ensemble] [--device cpu|cuda] [--quiet]
//
// --model may be left out for weights that name their model (train_sr's net_g_*.safetensors do).
// PNG, JPEG and BMP in; PNG out (16-bit when the input was). Any size: large images go through
// overlapping tiles (models/upscale.h). Gray and RGBA images keep their channels. Each output file
// is written atomically; a file that fails leaves nothing behind, and the exit status is non-zero.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "core/image_io.h"
#include "core/safetensors.h"
#include "models/spec.h"
#include "models/upscale.h"

using namespace sr;
namespace fs = std::filesystem;

namespace {

struct UpscaleArgs {
    std::string model, weights, input, output;
    UpscaleOptions options;
    bool quiet = false, non_strict = false;
};

UpscaleArgs parse(int argc, char** argv) {
    UpscaleArgs o;
    Cli cli("sr_upscale",
            "[--model SPEC] --weights FILE --input FILE|DIR --output FILE|DIR\n"
            "                  [--tile N] [--tile-pad P] [--self-ensemble] [--device cpu|cuda] [--quiet]",
            "Upscales PNG, JPEG and BMP images with a trained network, writing PNG.");
    cli.string_flag("--model", "SPEC", "the network; may be left out for weights that name it (train_sr's do)", o.model);
    cli.string_flag("--weights", "FILE", "the network's weights: safetensors, a PyTorch checkpoint or Keras .hdf5", o.weights);
    cli.string_flag("--input", "FILE|DIR", "an image, or a folder of them", o.input);
    cli.string_flag("--output", "FILE|DIR", "the PNG file to write, or the folder for a folder's images", o.output);
    cli.integer_flag("--tile", "N", "LR pixels per tile side; 0: the whole image up to 512 x 512, else 256", o.options.tile);
    cli.integer_flag("--tile-pad", "P", "LR pixels of context around each tile", o.options.pad);
    cli.switch_flag("--self-ensemble", "average the 8 flips and rotations of each tile", o.options.self_ensemble);
    cli.device_flag("--device", "where the network runs", o.options.device);
    cli.switch_flag("--non-strict", "skip tensors of the weights file that the model lacks (missing ones stay errors)", o.non_strict);
    cli.switch_flag("--quiet", "print nothing but errors", o.quiet);
    cli.parse(argc, argv);
    SR_CHECK(!o.weights.empty() && !o.input.empty() && !o.output.empty(),
             "--weights, --input and --output are required (see --help)");
    return o;
}

bool is_image(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

void upscale_file(Network& model, const fs::path& in, const fs::path& out, const UpscaleArgs& args) {
    ImageInfo info;
    const Tensor image = read_image(in.string(), 0, &info);
    UpscaleOptions options = args.options;
    if (!args.quiet)
        options.progress = [&](int64_t done, int64_t total) {
            if (total < 2) return;
            const int width = 30, filled = int(width * done / total);
            std::fprintf(stderr, "\r  %s [%s%s] %lld/%lld tiles", in.filename().string().c_str(), std::string(filled, '#').c_str(),
                         std::string(width - filled, '.').c_str(), (long long)done, (long long)total);
            if (done == total) std::fprintf(stderr, "\n");
        };
    const Tensor result = upscale_image(model, image, options);
    write_png(out.string(), result, info.bits);
    if (!args.quiet)
        std::printf("%s (%dx%d, %d channels, %d-bit) -> %s (%lldx%lld)\n", in.string().c_str(), info.width, info.height,
                    info.channels, info.bits, out.string().c_str(), (long long)result.size(2), (long long)result.size(1));
}

// The network to run: --model, or the model the weights name (train_sr's weights do).
std::shared_ptr<Network> load_model(const UpscaleArgs& args) {
    std::shared_ptr<Network> model = load_network(args.model, args.weights, args.non_strict);
    model->eval();
    model->to(args.options.device);
    return model;
}

// Nothing the user has is written over: no output may be one of the inputs (an image upscaled
// into its own folder, --output equal to --input), and no two inputs may share an output
// (x.png and x.jpg would both write x.png).
void check_jobs(const std::vector<std::pair<fs::path, fs::path>>& jobs) {
    std::map<fs::path, fs::path> writers;  // output -> the input it comes from
    for (const auto& [in, out] : jobs) {
        const fs::path target = fs::weakly_canonical(out);
        const auto [it, fresh] = writers.emplace(target, in);
        SR_CHECK(fresh, "'", it->second.string(), "' and '", in.string(), "' would both be written to '", out.string(),
                 "': rename one, or upscale them into separate folders");
    }
    for (const auto& [in, out] : jobs) {
        const auto it = writers.find(fs::weakly_canonical(in));
        SR_CHECK(it == writers.end(), "refusing to write '", it->first.string(), "' over the input image '", in.string(),
                 "': choose another --output");
    }
}

// (input, output) file pairs: the one file, or every image of the input folder, sorted.
std::vector<std::pair<fs::path, fs::path>> upscale_jobs(const UpscaleArgs& args) {
    std::vector<std::pair<fs::path, fs::path>> jobs;
    if (fs::is_directory(args.input)) {
        for (const auto& entry : fs::directory_iterator(args.input))
            if (entry.is_regular_file() && is_image(entry.path()))
                jobs.emplace_back(entry.path(), fs::path(args.output) / (entry.path().stem().string() + ".png"));
        std::sort(jobs.begin(), jobs.end());
        SR_CHECK(!jobs.empty(), "no PNG, JPEG or BMP images in '", args.input, "'");
        check_jobs(jobs);
        fs::create_directories(args.output);
    } else {
        SR_CHECK(fs::exists(args.input), "no such file or folder: '", args.input, "'");
        SR_CHECK(!fs::is_directory(args.output), "--output '", args.output, "' is a folder; give a file name for a single input");
        jobs.emplace_back(args.input, args.output);
        check_jobs(jobs);
    }
    return jobs;
}

}  // namespace

int main(int argc, char** argv) {
    return run_tool("sr_upscale", [&] {
        const UpscaleArgs args = parse(argc, argv);
        const std::vector<std::pair<fs::path, fs::path>> jobs = upscale_jobs(args);  // checked before any work
        const std::shared_ptr<Network> model = load_model(args);
        // A file that fails is reported and skipped; the others are still written.
        int failed = 0;
        for (const auto& [in, out] : jobs) {
            try {
                upscale_file(*model, in, out, args);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "sr_upscale: %s: %s\n", in.string().c_str(), e.what());
                ++failed;
            }
        }
        if (failed) std::fprintf(stderr, "sr_upscale: %d of %zu images failed\n", failed, jobs.size());
        return failed ? 1 : 0;
    });
}
