// sr_eval: PSNR-Y, SSIM-Y and PSNR-RGB of an SR model, or of MATLAB-bicubic upscaling, on a dataset.
//
//   sr_eval --model edsr --weights edsr_x2.safetensors --data DIV2K --scale 2
//   sr_eval --model bicubic --data /work/shared/data/div2k-mini --scale 4 --split all --json
//           [--split train|valid|all] [--tile N] [--self-ensemble] [--device cpu|cuda]
//
// The data folder is in DIV2K layout (DIV2K_{train,valid}_HR/, DIV2K_{train,valid}_LR_bicubic/X{s}/;
// the valid split by default) or plain (HR/, LR_bicubic/X{s}/): see train/pairs.h. Each LR image is
// upscaled by the model (tiled as sr_upscale does) or by BasicSR's MATLAB-style bicubic imresize,
// quantised to 8 bits as a saved PNG would be, and scored against its HR image with BasicSR's
// metrics (train/metrics.h), cropping `scale` pixels from each border as SR papers do. Means are
// plain averages over the images. --json prints one JSON object instead of the table:
//   {"mean": {"psnr_y": .., "ssim_y": .., "psnr_rgb": ..}, "images": [{"name": .., "psnr_y": .., ...}, ...]}
// (an infinite PSNR, of an image reproduced exactly, is written as null: JSON has no infinity).
// A missing or corrupt image, or an HR image that is not exactly scale x its LR image, stops the
// run with one error naming the file, and exit status 1.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "core/image_io.h"
#include "core/json.h"
#include "models/spec.h"
#include "models/upscale.h"
#include "train/imresize.h"
#include "train/metrics.h"
#include "train/pairs.h"

using namespace sr;

namespace {

struct EvalArgs {
    std::string model, weights, data, split = "valid";
    int scale = 0;
    bool json = false, non_strict = false;
    UpscaleOptions options;
};

EvalArgs parse(int argc, char** argv) {
    EvalArgs o;
    Cli cli("sr_eval",
            "[--model SPEC|bicubic] [--weights W.safetensors] --data DIR --scale S\n"
            "               [--split train|valid|all] [--json] [--tile N] [--self-ensemble] [--device cpu|cuda]",
            "PSNR-Y, SSIM-Y and PSNR-RGB of an SR model, or of MATLAB-bicubic upscaling, on a dataset.");
    cli.string_flag("--model", "SPEC", "the network (a name with options), or bicubic; may be left out for weights that name it", o.model);
    cli.string_flag("--weights", "FILE", "the network's weights: safetensors, a PyTorch checkpoint or Keras .hdf5 (not for bicubic)", o.weights);
    cli.string_flag("--data", "DIR", "the dataset: DIV2K layout, or HR/ and LR_bicubic/X{scale}/", o.data);
    cli.integer_flag("--scale", "S", "the upscaling factor", o.scale, 1);
    cli.string_flag("--split", "train|valid|all", "which DIV2K images to score", o.split);
    cli.switch_flag("--json", "print one JSON object instead of the table", o.json);
    cli.integer_flag("--tile", "N", "LR pixels per tile side, as sr_upscale", o.options.tile);
    cli.switch_flag("--self-ensemble", "average the 8 flips and rotations of each tile", o.options.self_ensemble);
    cli.device_flag("--device", "where the network runs", o.options.device);
    cli.switch_flag("--non-strict", "skip tensors of the weights file that the model lacks (missing ones stay errors)", o.non_strict);
    cli.parse(argc, argv);
    SR_CHECK(!o.data.empty() && o.scale > 0, "--data and --scale (>= 1) are required (see --help)");
    SR_CHECK(!o.model.empty() || !o.weights.empty(), "give --weights (and --model unless the weights name it), or --model bicubic");
    SR_CHECK(o.model == "bicubic" || !o.weights.empty(), "--weights is required for --model ", o.model);
    SR_CHECK(o.model != "bicubic" || o.weights.empty(), "--model bicubic takes no --weights");
    return o;
}

// "12.3456" for the table, "null" in JSON for an infinite PSNR.
std::string number(double v, bool json) {
    if (!std::isfinite(v)) return json ? "null" : (v > 0 ? "inf" : "nan");
    char buf[64];
    std::snprintf(buf, sizeof buf, json ? "%.8f" : "%.4f", v);
    return buf;
}

std::string json_scores(const ImageScores& s) {
    return "\"psnr_y\": " + number(s.psnr_y, true) + ", \"ssim_y\": " + number(s.ssim_y, true) +
           ", \"psnr_rgb\": " + number(s.psnr_rgb, true);
}

// The SR image of one pair, quantised to 8 bits; the HR image is checked to be exactly scale x LR.
Tensor super_resolve(Network* model, const ImagePair& pair, const Tensor& lr, const Tensor& hr, const EvalArgs& args) {
    SR_CHECK(hr.size(1) == lr.size(1) * args.scale && hr.size(2) == lr.size(2) * args.scale, "'", pair.hr, "' is ",
             hr.size(2), "x", hr.size(1), " but its LR image '", pair.lr, "' is ", lr.size(2), "x", lr.size(1), ": x",
             args.scale, " needs exactly ", lr.size(2) * args.scale, "x", lr.size(1) * args.scale);
    const Tensor sr = model ? upscale_image(*model, lr, args.options) : imresize(lr, double(args.scale));
    SR_CHECK(sr.shape() == hr.shape(), "the model turned '", pair.lr, "' ", lr.shape(), " into ", sr.shape(), ", not ",
             hr.shape());
    return quantize_u8(sr.to(Device::cpu()));
}

// The network to score, checked to upscale by --scale; none for bicubic.
std::shared_ptr<Network> load_model(const EvalArgs& args) {
    if (args.model == "bicubic") return nullptr;
    std::shared_ptr<Network> model = load_network(args.model, args.weights, args.non_strict);
    model->eval();
    model->to(args.options.device);
    const int64_t s = network_scale(*model, args.options.device);
    SR_CHECK(s == args.scale, "the model (", args.model.empty() ? args.weights : args.model, ") upscales x", s, ", not x", args.scale);
    return model;
}

void print_json(const ImageScores& mean, const std::vector<std::pair<std::string, ImageScores>>& scores) {
    std::string out = "{\"mean\": {" + json_scores(mean) + "}, \"images\": [";
    for (size_t i = 0; i < scores.size(); ++i)
        out += (i ? ", " : "") + std::string("{\"name\": ") + json_quote(scores[i].first) + ", " +
               json_scores(scores[i].second) + "}";
    std::printf("%s]}\n", out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    return run_tool("sr_eval", [&] {
        const EvalArgs args = parse(argc, argv);
        const std::shared_ptr<Network> model = load_model(args);
        const std::vector<ImagePair> pairs = find_pairs(args.data, args.split, args.scale);

        if (!args.json) std::printf("%-16s %10s %8s %10s\n", "image", "PSNR-Y", "SSIM-Y", "PSNR-RGB");
        std::vector<std::pair<std::string, ImageScores>> scores;
        ImageScores mean;
        for (const ImagePair& pair : pairs) {
            const Tensor hr = read_image(pair.hr, 3), lr = read_image(pair.lr, 3);
            const Tensor sr = super_resolve(model.get(), pair, lr, hr, args);
            const ImageScores s = score_image(sr, hr, args.scale);
            scores.emplace_back(pair.name, s);
            mean.psnr_y += s.psnr_y / double(pairs.size());
            mean.ssim_y += s.ssim_y / double(pairs.size());
            mean.psnr_rgb += s.psnr_rgb / double(pairs.size());
            if (!args.json)
                std::printf("%-16s %10s %8s %10s\n", pair.name.c_str(), number(s.psnr_y, false).c_str(),
                            number(s.ssim_y, false).c_str(), number(s.psnr_rgb, false).c_str());
        }
        if (args.json)
            print_json(mean, scores);
        else
            std::printf("%-16s %10s %8s %10s   (%zu images, x%d, %s)\n", "mean", number(mean.psnr_y, false).c_str(),
                        number(mean.ssim_y, false).c_str(), number(mean.psnr_rgb, false).c_str(), pairs.size(), args.scale,
                        args.model.c_str());
        return 0;
    });
}
