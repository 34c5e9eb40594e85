// sr_forward: runs a model on a tensor from a file, for checking srforge against another
// framework. Loads the weights and buffers by name (strictly; --non-strict skips extra tensors),
// runs the model on the tensor `input` (or --input-key), writes `output`; with
// --grad-output-key it also back-propagates sum(output * grad_output) and writes `grad.input`
// and `grad.<parameter name>` for every parameter.
//
//   sr_forward --model rrdbnet --weights RealESRGAN_x4plus.safetensors --input x.safetensors
//              --output y.safetensors [--input-key NAME] [--grad-output-key NAME]
//              [--mode eval|train] [--device cpu|cuda]
#include <cstdio>
#include <string>

#include "autograd/backward.h"
#include "cli.h"
#include "core/factory.h"
#include "core/safetensors.h"
#include "models/spec.h"

using namespace sr;

namespace {

struct ForwardOptions {
    std::string model, weights, input, output, input_key = "input", grad_output_key, mode = "eval";
    Device device = Device::cpu();
    bool non_strict = false;
};

ForwardOptions parse(int argc, char** argv) {
    ForwardOptions o;
    Cli cli("sr_forward",
            "--model SPEC --weights W.safetensors --input IN.safetensors --output OUT.safetensors\n"
            "                  [--input-key NAME] [--grad-output-key NAME] [--mode eval|train] [--device cpu|cuda]",
            "Runs a model on a tensor from a file and writes its output (and gradients), to compare with another framework.");
    cli.string_flag("--model", "SPEC", "the network, a name with options: rrdbnet:num_block=6", o.model);
    cli.string_flag("--weights", "FILE", "its weights and buffers, by name (every tensor must be the model's)", o.weights);
    cli.string_flag("--input", "FILE", "a safetensors file holding the input tensor", o.input);
    cli.string_flag("--output", "FILE", "the safetensors file to write: output, and grad.* with --grad-output-key", o.output);
    cli.string_flag("--input-key", "NAME", "the input tensor's name in --input", o.input_key);
    cli.string_flag("--grad-output-key", "NAME", "back-propagate sum(output * this tensor of --input)", o.grad_output_key);
    cli.string_flag("--mode", "eval|train", "train: batch norm normalises with the batch's statistics", o.mode);
    cli.device_flag("--device", "where the model runs", o.device);
    cli.switch_flag("--non-strict", "skip tensors of the weights file that the model lacks (missing ones stay errors)", o.non_strict);
    cli.parse(argc, argv);
    SR_CHECK(!o.model.empty() && !o.weights.empty() && !o.input.empty() && !o.output.empty(),
             "--model, --weights, --input and --output are required (see --help)");
    SR_CHECK(o.mode == "eval" || o.mode == "train", "--mode must be eval or train, got '", o.mode, "'");
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    return run_tool("sr_forward", [&] {
        const ForwardOptions o = parse(argc, argv);
        std::shared_ptr<Network> model = load_network(o.model, o.weights, o.non_strict);
        model->train(o.mode == "train");
        model->to(o.device);

        const SafetensorsFile in = read_safetensors(o.input);
        Tensor x = in.at(o.input_key).to(DType::F32).to(o.device).detach();
        const bool grads = !o.grad_output_key.empty();
        if (grads) x.set_requires_grad(true);
        Tensor y;
        if (grads) {
            y = model->forward(x);
        } else {
            NoGradGuard no_grad;
            y = model->forward(x);
        }
        NamedTensors out{{"output", y}};
        if (grads) {
            const Tensor gy = in.at(o.grad_output_key).to(DType::F32).to(o.device);
            SR_CHECK(gy.shape() == y.shape(), "grad output '", o.grad_output_key, "' has shape ", gy.shape(),
                     " but the output is ", y.shape());
            backward(y, gy);
            out.emplace_back("grad.input", x.grad());
            for (const auto& [name, p] : model->named_parameters())
                out.emplace_back("grad." + name, p.grad().defined() ? p.grad() : zeros(p.shape(), {p.dtype(), p.device()}));
        }
        write_safetensors(o.output, out, {{"model", o.model}, {"mode", o.mode}});
        std::printf("sr_forward: %s -> output %s%s\n", to_string(x.shape()).c_str(), to_string(y.shape()).c_str(),
                    grads ? ", with gradients" : "");
        return 0;
    });
}
