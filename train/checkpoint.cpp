#include "train/checkpoint.h"

#include <cstdio>
#include <cstdlib>

#include "autograd/node.h"
#include "core/safetensors.h"
#include "ops/layout.h"

namespace sr {

namespace {
std::string precise(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}
}  // namespace

void save_checkpoint(const std::string& path, const std::string& model_spec, const Module& net, const Adam& optimizer,
                     const Ema* ema, const RunState& state) {
    NamedTensors out;
    for (const auto& [n, t] : net.state_dict()) out.emplace_back("net_g." + n, t);
    if (ema)
        for (const auto& [n, t] : ema->state()) out.emplace_back("net_g_ema." + n, t);
    const NamedTensors params = net.named_parameters();
    for (size_t i = 0; i < params.size(); ++i) {
        out.emplace_back("optim.exp_avg." + params[i].first, optimizer.exp_avg()[i]);
        out.emplace_back("optim.exp_avg_sq." + params[i].first, optimizer.exp_avg_sq()[i]);
    }
    write_safetensors(path, out,
                      {{"model", model_spec},
                       {"iteration", std::to_string(state.iteration)},
                       {"optim.steps", std::to_string(optimizer.steps())},
                       {"best_psnr_y", precise(state.best_psnr_y)},
                       {"best_iter", std::to_string(state.best_iter)},
                       {"seed", std::to_string(state.seed)},
                       {"format", "srforge checkpoint 1"}});
}

RunState load_checkpoint(const std::string& path, const std::string& model_spec, Module& net, Adam& optimizer, Ema* ema) {
    const SafetensorsFile f = read_safetensors(path);
    auto meta = [&](const std::string& key) {
        auto it = f.metadata.find(key);
        SR_CHECK(it != f.metadata.end(), "checkpoint '", path, "' has no '", key, "' entry: not a srforge checkpoint?");
        return it->second;
    };
    SR_CHECK(meta("model") == model_spec, "checkpoint '", path, "' is of model '", meta("model"), "', not '", model_spec,
             "' (start a new run folder, or use the same model)");
    NamedTensors weights, averaged;
    std::map<std::string, const Tensor*> named;
    for (const auto& [n, t] : f.tensors) {
        named[n] = &t;
        if (n.rfind("net_g.", 0) == 0) weights.emplace_back(n.substr(6), t);
        if (n.rfind("net_g_ema.", 0) == 0) averaged.emplace_back(n.substr(10), t);
    }
    net.load_state_dict(weights);
    NoGradGuard no_grad;
    if (ema) {
        SR_CHECK(averaged.size() == ema->state().size(), "checkpoint '", path, "' has no EMA weights, but this run uses EMA");
        for (size_t i = 0; i < averaged.size(); ++i) {
            SR_CHECK(averaged[i].first == ema->state()[i].first, "checkpoint '", path, "': EMA tensor order differs");
            copy_(ema->state()[i].second, averaged[i].second);
        }
    }
    const NamedTensors params = net.named_parameters();
    for (size_t i = 0; i < params.size(); ++i) {
        auto m = named.find("optim.exp_avg." + params[i].first), v = named.find("optim.exp_avg_sq." + params[i].first);
        SR_CHECK(m != named.end() && v != named.end(), "checkpoint '", path, "' lacks the optimiser state of ", params[i].first);
        copy_(optimizer.exp_avg()[i], *m->second);
        copy_(optimizer.exp_avg_sq()[i], *v->second);
    }
    auto number = [&](const std::string& key) {
        const std::string text = meta(key);
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        SR_CHECK(!text.empty() && *end == '\0', "checkpoint '", path, "': '", key, "' is not a number ('", text, "')");
        return v;
    };
    optimizer.set_steps(int64_t(number("optim.steps")));
    RunState state;
    state.iteration = int64_t(number("iteration"));
    state.best_psnr_y = number("best_psnr_y");
    state.best_iter = int64_t(number("best_iter"));
    const std::string seed = meta("seed");
    char* end = nullptr;
    state.seed = std::strtoull(seed.c_str(), &end, 10);
    SR_CHECK(!seed.empty() && *end == '\0', "checkpoint '", path, "': 'seed' is not a number ('", seed, "')");
    return state;
}

}  // namespace sr
