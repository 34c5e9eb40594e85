// sr_export: writes a generator as an ONNX model (models/onnx_export.h), for onnxruntime,
// TensorRT or a browser: input "input" and output "output", NCHW float32, with the batch, height
// and width dynamic. Any weights srforge loads will do: safetensors, or a PyTorch checkpoint
// (whose network is recognised from its names and shapes when --model is not given).
//
//   sr_export --weights RealESRGAN_x4plus.pth --output x4plus.onnx
//   sr_export --weights net_g_best.safetensors --model edsr:num_feat=64,num_block=16,upscale=2 --output edsr.onnx
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli.h"
#include "core/file.h"
#include "models/onnx_export.h"
#include "models/spec.h"

using namespace sr;

int main(int argc, char** argv) {
    return run_tool("sr_export", [&] {
        std::string model, weights, output;
        bool non_strict = false;
        Cli cli("sr_export", "--weights FILE [--model SPEC] --output MODEL.onnx", "Writes a generator as an ONNX model.");
        cli.string_flag("--weights", "FILE", "the weights: safetensors, a PyTorch checkpoint or Keras .hdf5", weights);
        cli.string_flag("--model", "SPEC", "the network, when the file does not say it (see sr_info --weights)", model);
        cli.string_flag("--output", "FILE", "the .onnx file to write", output);
        cli.switch_flag("--non-strict", "skip tensors of the weights file that the model lacks", non_strict);
        cli.parse(argc, argv);
        SR_CHECK(!weights.empty() && !output.empty(), "--weights and --output are required (see --help)");
        SR_CHECK(!std::filesystem::exists(output) || !std::filesystem::equivalent(output, weights),
                 "refusing to write '", output, "' over the weights it is made from");
        std::string spec;
        std::shared_ptr<Network> net = load_network(model, weights, non_strict, &spec);
        write_file_atomic(output, export_onnx(*net, spec));
        std::printf("%s (%s) -> %s\n", weights.c_str(), spec.c_str(), output.c_str());
        return 0;
    });
}
