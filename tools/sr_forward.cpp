// sr_forward: runs a model on a tensor from a file, for checking srforge against another
// framework. Loads the weights and buffers by name (extra tensors in the file are ignored),
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
#include "core/factory.h"
#include "core/safetensors.h"
#include "models/spec.h"

using namespace sr;

namespace {

struct ForwardOptions {
    std::string model, weights, input, output, input_key = "input", grad_output_key, mode = "eval", device = "cpu";
};

ForwardOptions parse(int argc, char** argv) {
    ForwardOptions o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() {
            SR_CHECK(i + 1 < argc, "sr_forward: ", a, " needs a value");
            return std::string(argv[++i]);
        };
        if (a == "--model") o.model = value();
        else if (a == "--weights") o.weights = value();
        else if (a == "--input") o.input = value();
        else if (a == "--output") o.output = value();
        else if (a == "--input-key") o.input_key = value();
        else if (a == "--grad-output-key") o.grad_output_key = value();
        else if (a == "--mode") o.mode = value();
        else if (a == "--device") o.device = value();
        else if (a == "-h" || a == "--help") {
            std::printf("usage: sr_forward --model SPEC --weights W.safetensors --input IN.safetensors --output OUT.safetensors\n"
                        "                  [--input-key NAME] [--grad-output-key NAME] [--mode eval|train] [--device cpu|cuda]\n");
            std::exit(0);
        } else fail("sr_forward: unknown argument '", a, "' (see --help)");
    }
    SR_CHECK(!o.model.empty() && !o.weights.empty() && !o.input.empty() && !o.output.empty(),
             "sr_forward: --model, --weights, --input and --output are required (see --help)");
    SR_CHECK(o.mode == "eval" || o.mode == "train", "sr_forward: --mode must be eval or train, got '", o.mode, "'");
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const ForwardOptions o = parse(argc, argv);
        const Device device = Device::parse(o.device);
        std::shared_ptr<Network> model = make_model(o.model);
        model->load(o.weights, /*allow_unexpected=*/true);
        model->train(o.mode == "train");
        model->to(device);

        const SafetensorsFile in = read_safetensors(o.input);
        Tensor x = in.at(o.input_key).to(DType::F32).to(device).detach();
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
            const Tensor gy = in.at(o.grad_output_key).to(DType::F32).to(device);
            SR_CHECK(gy.shape() == y.shape(), "sr_forward: grad output '", o.grad_output_key, "' has shape ", gy.shape(),
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
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sr_forward: %s\n", e.what());
        return 1;
    }
}
