#include "train/checkpoint.h"

#include <cstdio>
#include <cstdlib>
#include <map>

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

void save_checkpoint(const std::string& path, const Trained& g, const Ema* ema, const Trained* d, const RunState& state) {
    NamedTensors out;
    auto add = [&](const Trained& t, const std::string& net, const std::string& optim) {
        for (const auto& [n, x] : t.net->state_dict()) out.emplace_back(net + "." + n, x);
        const NamedTensors params = t.net->named_parameters();
        for (size_t i = 0; i < params.size(); ++i) {
            out.emplace_back(optim + ".exp_avg." + params[i].first, t.optimizer->exp_avg()[i]);
            out.emplace_back(optim + ".exp_avg_sq." + params[i].first, t.optimizer->exp_avg_sq()[i]);
        }
    };
    add(g, "net_g", "optim");
    for (const auto& [n, t] : state.pool) out.emplace_back("pool." + n, t);
    if (ema)
        for (const auto& [n, t] : ema->state()) out.emplace_back("net_g_ema." + n, t);
    std::map<std::string, std::string> meta = {{"model", g.spec},
                                               {"iteration", std::to_string(state.iteration)},
                                               {"optim.steps", std::to_string(g.optimizer->steps())},
                                               {"best_psnr_y", precise(state.best_psnr_y)},
                                               {"best_iter", std::to_string(state.best_iter)},
                                               {"seed", std::to_string(state.seed)},
                                               {"format", "srforge checkpoint 1"}};
    if (d) {
        add(*d, "net_d", "optim_d");
        meta["model_d"] = d->spec;
        meta["optim_d.steps"] = std::to_string(d->optimizer->steps());
    }
    write_safetensors(path, out, meta);
}

RunState load_checkpoint(const std::string& path, const Trained& g, Ema* ema, const Trained* d) {
    const SafetensorsFile f = read_safetensors(path);
    auto meta = [&](const std::string& key) {
        auto it = f.metadata.find(key);
        SR_CHECK(it != f.metadata.end(), "checkpoint '", path, "' has no '", key, "' entry: not a srforge checkpoint?");
        return it->second;
    };
    auto number = [&](const std::string& key) {
        const std::string text = meta(key);
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        SR_CHECK(!text.empty() && *end == '\0', "checkpoint '", path, "': '", key, "' is not a number ('", text, "')");
        return v;
    };
    SR_CHECK(meta("model") == g.spec, "checkpoint '", path, "' is of model '", meta("model"), "', not '", g.spec,
             "' (start a new run folder, or use the same model)");
    const bool has_d = f.metadata.count("model_d") > 0;
    SR_CHECK(has_d == (d != nullptr), "checkpoint '", path, "' ", has_d ? "has" : "has no", " discriminator, but this run ",
             d ? "trains one" : "does not", " (start a new run folder)");
    if (d)
        SR_CHECK(meta("model_d") == d->spec, "checkpoint '", path, "' has discriminator '", meta("model_d"), "', not '",
                 d->spec, "'");
    std::map<std::string, const Tensor*> named;
    for (const auto& [n, t] : f.tensors) named[n] = &t;
    auto restore = [&](const Trained& t, const std::string& net, const std::string& optim) {
        NamedTensors weights;
        for (const auto& [n, x] : f.tensors)
            if (n.rfind(net + ".", 0) == 0) weights.emplace_back(n.substr(net.size() + 1), x);
        t.net->load_state_dict(weights);
        NoGradGuard no_grad;
        const NamedTensors params = t.net->named_parameters();
        for (size_t i = 0; i < params.size(); ++i) {
            auto m = named.find(optim + ".exp_avg." + params[i].first), v = named.find(optim + ".exp_avg_sq." + params[i].first);
            SR_CHECK(m != named.end() && v != named.end(), "checkpoint '", path, "' lacks the optimiser state of ", net, ".",
                     params[i].first);
            copy_(t.optimizer->exp_avg()[i], *m->second);
            copy_(t.optimizer->exp_avg_sq()[i], *v->second);
        }
        t.optimizer->set_steps(int64_t(number(optim + ".steps")));
    };
    restore(g, "net_g", "optim");
    if (d) restore(*d, "net_d", "optim_d");
    if (ema) {
        NoGradGuard no_grad;
        NamedTensors averaged;
        for (const auto& [n, t] : f.tensors)
            if (n.rfind("net_g_ema.", 0) == 0) averaged.emplace_back(n.substr(10), t);
        SR_CHECK(averaged.size() == ema->state().size(), "checkpoint '", path, "' has no EMA weights, but this run uses EMA");
        for (size_t i = 0; i < averaged.size(); ++i) {
            SR_CHECK(averaged[i].first == ema->state()[i].first, "checkpoint '", path, "': EMA tensor order differs");
            copy_(ema->state()[i].second, averaged[i].second);
        }
    }
    RunState state;
    for (const auto& [n, t] : f.tensors)
        if (n.rfind("pool.", 0) == 0) state.pool.emplace_back(n.substr(5), t);
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
