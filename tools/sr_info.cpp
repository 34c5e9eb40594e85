// sr_info: what a model is. Prints its layer table (module, type, parameters, forward FLOPs per
// input pixel), the parameter count and the FLOPs per LR (input) pixel, measured by running a
// forward pass on an example input.
//
//   sr_info --model rrdbnet                       defaults: BasicSR's RRDBNet, 23 blocks
//   sr_info --model edsr:num_feat=256,num_block=32,res_scale=0.1 --depth 1
//   sr_info --weights RealESRGAN_x4plus.pth       which network a weights file holds, then its table
//   sr_info --models                              the model names
#include <cstdio>
#include <functional>
#include <string>

#include "autograd/node.h"
#include "cli.h"
#include "core/factory.h"
#include "core/pth.h"
#include "models/detect.h"
#include "models/layers.h"
#include "models/spec.h"

using namespace sr;

namespace {

struct InfoOptions {
    std::string model, weights;
    int depth = 2;  // rows for modules up to this depth; deeper modules are summed into them
    bool list = false;
};

InfoOptions parse(int argc, char** argv) {
    InfoOptions o;
    Cli cli("sr_info", "--model SPEC | --weights FILE [--depth N] | --models",
            "Prints a model's layer table, parameter count and FLOPs per input pixel.");
    cli.string_flag("--model", "SPEC", "the network, a name with options: edsr:num_feat=256,num_block=32", o.model);
    cli.string_flag("--weights", "FILE", "safetensors, a PyTorch checkpoint or Keras .hdf5: says which network it holds", o.weights);
    cli.integer_flag("--depth", "N", "rows for modules down to this depth; deeper ones are summed into them", o.depth, 1);
    cli.switch_flag("--models", "print the model names", o.list);
    cli.parse(argc, argv);
    SR_CHECK(o.list || !o.model.empty() || !o.weights.empty(), "--model SPEC or --weights FILE is required (see --models)");
    SR_CHECK(o.model.empty() || o.weights.empty(), "give --model or --weights, not both");
    return o;
}

std::string human(double v) {
    char buf[32];
    if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2f G", v / 1e9);
    else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2f M", v / 1e6);
    else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1f K", v / 1e3);
    else std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
}

// Parameters and FLOPs of a module and everything below it.
void totals(const Module& m, const FlopCounter& flops, int64_t& params, double& f) {
    for (const auto& [n, t] : m.own_parameters()) params += t.numel();
    f += flops.of(&m);
    for (const auto& [n, c] : m.children()) totals(*c, flops, params, f);
}

void print_rows(const Module& m, const std::string& path, int depth, int max_depth, const FlopCounter& flops,
                double pixels) {
    for (const auto& [name, child] : m.children()) {
        const std::string p = path.empty() ? name : path + "." + name;
        int64_t params = 0;
        double f = 0;
        totals(*child, flops, params, f);
        const bool leaf = child->children().empty();
        if (depth == max_depth || leaf) {
            std::printf("  %-40s %-22s %12lld %14s\n", p.c_str(), child->type_name().c_str(), (long long)params,
                        human(f / pixels).c_str());
        } else {
            print_rows(*child, p, depth + 1, max_depth, flops, pixels);
        }
    }
}

// What a weights file holds: its format, its tensors, and the network its metadata names or its
// names and shapes show. Returns that network's spec.
std::string describe_weights(const std::string& path) {
    const SafetensorsFile file = read_weights(path);
    int64_t values = 0;
    for (const auto& [n, t] : file.tensors) values += t.numel();
    const auto format = file.metadata.find("format");
    std::printf("%s: %s, %zu tensors, %lld values", path.c_str(), format == file.metadata.end() ? "safetensors" : format->second.c_str(),
                file.tensors.size(), (long long)values);
    if (auto key = file.metadata.find("state_dict_key"); key != file.metadata.end()) std::printf(" (under '%s')", key->second.c_str());
    std::printf("\n");
    if (auto stored = file.metadata.find("model"); stored != file.metadata.end()) {
        std::printf("model (stored in the file): %s\n", stored->second.c_str());
        return stored->second;
    }
    const DetectedNetwork d = detect_network(file.tensors);
    std::printf("model (recognised from names and shapes): %s\n", d.spec.c_str());
    if (!d.note.empty()) std::printf("  note: %s\n", d.note.c_str());
    return d.spec;
}

}  // namespace

int main(int argc, char** argv) {
    return run_tool("sr_info", [&] {
        const InfoOptions o = parse(argc, argv);
        if (o.list) {
            for (const std::string& n : model_names()) std::printf("%s\n", n.c_str());
            return 0;
        }
        const std::string spec = o.weights.empty() ? o.model : describe_weights(o.weights);
        std::shared_ptr<Network> model = make_model(spec);
        model->eval();
        const Shape input = model->example_input();
        FlopCounter flops;
        {
            NoGradGuard no_grad;
            (void)model->forward(uniform(input, 0, 1));
        }
        const double pixels = double(input[2] * input[3]);
        std::printf("%s (%s)\n", model->type_name().c_str(), spec.c_str());
        std::printf("  %-40s %-22s %12s %14s\n", "module", "type", "parameters", "FLOPs/pixel");
        print_rows(*model, "", 1, o.depth, flops, pixels);
        int64_t buffers = 0;
        for (const auto& [n, t] : model->named_buffers()) buffers += t.numel();
        std::printf("parameters: %lld (%.2f M)%s\n", (long long)model->parameter_count(), model->parameter_count() / 1e6,
                    buffers ? (", buffers: " + std::to_string(buffers)).c_str() : "");
        std::printf("FLOPs per input pixel: %s (measured on input %s; 2 x multiply-adds of convolutions and linear layers)\n",
                    human(flops.total() / pixels).c_str(), to_string(input).c_str());
        return 0;
    });
}
