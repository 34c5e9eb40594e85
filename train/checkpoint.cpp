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

using Metadata = std::map<std::string, std::string>;

// A network's tensors under `net`, its Adam moments under `optim`, and Adam's step count.
void add_trained(NamedTensors& out, Metadata& meta, const Trained& t, const std::string& net, const std::string& optim) {
    for (const auto& [n, x] : t.net->state_dict()) out.emplace_back(net + "." + n, x);
    const NamedTensors params = t.net->named_parameters();
    for (size_t i = 0; i < params.size(); ++i) {
        out.emplace_back(optim + ".exp_avg." + params[i].first, t.optimizer->exp_avg()[i]);
        out.emplace_back(optim + ".exp_avg_sq." + params[i].first, t.optimizer->exp_avg_sq()[i]);
    }
    meta[optim + ".steps"] = std::to_string(t.optimizer->steps());
}

// The run's counters and the training-pair pool or image pools ("pool.*").
void add_state(NamedTensors& out, Metadata& meta, const RunState& state) {
    for (const auto& [n, t] : state.pool) out.emplace_back("pool." + n, t);
    meta["iteration"] = std::to_string(state.iteration);
    meta["best_psnr_y"] = precise(state.best_psnr_y);
    meta["best_iter"] = std::to_string(state.best_iter);
    meta["seed"] = std::to_string(state.seed);
    meta["format"] = "srforge checkpoint 1";
}

// Reading a checkpoint: its metadata checked as it is used, each error naming the file.
struct Reader {
    std::string path;
    SafetensorsFile f;
    std::map<std::string, const Tensor*> named;

    explicit Reader(const std::string& p) : path(p), f(read_safetensors(p)) {
        for (const auto& [n, t] : f.tensors) named[n] = &t;
    }
    bool has(const std::string& key) const { return f.metadata.count(key) > 0; }
    std::string meta(const std::string& key) const {
        auto it = f.metadata.find(key);
        SR_CHECK(it != f.metadata.end(), "checkpoint '", path, "' has no '", key, "' entry: not a srforge checkpoint?");
        return it->second;
    }
    double number(const std::string& key) const {
        const std::string text = meta(key);
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        SR_CHECK(!text.empty() && *end == '\0', "checkpoint '", path, "': '", key, "' is not a number ('", text, "')");
        return v;
    }
    NamedTensors under(const std::string& prefix) const {  // the tensors "prefix.*", without the prefix
        NamedTensors out;
        for (const auto& [n, x] : f.tensors)
            if (n.rfind(prefix + ".", 0) == 0) out.emplace_back(n.substr(prefix.size() + 1), x);
        return out;
    }
    void check_spec(const std::string& key, const std::string& spec, const char* what) const {
        SR_CHECK(meta(key) == spec, "checkpoint '", path, "' is of ", what, " '", meta(key), "', not '", spec,
                 "' (start a new run folder, or use the same model)");
    }
    void restore(const Trained& t, const std::string& net, const std::string& optim) const {
        t.net->load_state_dict(under(net));
        NoGradGuard no_grad;
        const NamedTensors params = t.net->named_parameters();
        for (size_t i = 0; i < params.size(); ++i) {
            auto m = named.find(optim + ".exp_avg." + params[i].first), v = named.find(optim + ".exp_avg_sq." + params[i].first);
            SR_CHECK(m != named.end() && v != named.end(), "checkpoint '", path, "' lacks the optimiser state of ", net, ".", params[i].first);
            copy_(t.optimizer->exp_avg()[i], *m->second);
            copy_(t.optimizer->exp_avg_sq()[i], *v->second);
        }
        t.optimizer->set_steps(int64_t(number(optim + ".steps")));
    }
    RunState state() const {
        RunState s;
        s.pool = under("pool");
        s.iteration = int64_t(number("iteration"));
        s.best_psnr_y = number("best_psnr_y");
        s.best_iter = int64_t(number("best_iter"));
        const std::string seed = meta("seed");
        char* end = nullptr;
        s.seed = std::strtoull(seed.c_str(), &end, 10);
        SR_CHECK(!seed.empty() && *end == '\0', "checkpoint '", path, "': 'seed' is not a number ('", seed, "')");
        return s;
    }
};

}  // namespace

void save_checkpoint(const std::string& path, const Trained& g, const Ema* ema, const Trained* d, const RunState& state) {
    NamedTensors out;
    Metadata meta{{"model", g.spec}};
    add_trained(out, meta, g, "net_g", "optim");
    add_state(out, meta, state);
    if (ema)
        for (const auto& [n, t] : ema->state()) out.emplace_back("net_g_ema." + n, t);
    if (d) {
        add_trained(out, meta, *d, "net_d", "optim_d");
        meta["model_d"] = d->spec;
    }
    write_safetensors(path, out, meta);
}

RunState load_checkpoint(const std::string& path, const Trained& g, Ema* ema, const Trained* d) {
    const Reader r(path);
    SR_CHECK(!r.has("parts"), "checkpoint '", path, "' is of a CycleGANModel run (networks ", r.meta("parts"), "), not of this model type");
    r.check_spec("model", g.spec, "model");
    const bool has_d = r.has("model_d");
    SR_CHECK(has_d == (d != nullptr), "checkpoint '", path, "' ", has_d ? "has" : "has no", " discriminator, but this run ",
             d ? "trains one" : "does not", " (start a new run folder)");
    if (d)
        SR_CHECK(r.meta("model_d") == d->spec, "checkpoint '", path, "' has discriminator '", r.meta("model_d"), "', not '", d->spec, "'");
    r.restore(g, "net_g", "optim");
    if (d) r.restore(*d, "net_d", "optim_d");
    if (ema) {
        NoGradGuard no_grad;
        const NamedTensors averaged = r.under("net_g_ema");
        SR_CHECK(averaged.size() == ema->state().size(), "checkpoint '", path, "' has no EMA weights, but this run uses EMA");
        for (size_t i = 0; i < averaged.size(); ++i) {
            SR_CHECK(averaged[i].first == ema->state()[i].first, "checkpoint '", path, "': EMA tensor order differs");
            copy_(ema->state()[i].second, averaged[i].second);
        }
    }
    return r.state();
}

void save_checkpoint(const std::string& path, const std::vector<NamedTrained>& parts, const RunState& state) {
    NamedTensors out;
    Metadata meta;
    std::string names;
    for (const NamedTrained& p : parts) {
        add_trained(out, meta, p.trained, "net_" + p.name, "optim_" + p.name);
        meta["model_" + p.name] = p.trained.spec;
        names += (names.empty() ? "" : ",") + p.name;
    }
    meta["parts"] = names;
    meta["model"] = parts.empty() ? "" : parts[0].trained.spec;
    add_state(out, meta, state);
    write_safetensors(path, out, meta);
}

RunState load_checkpoint(const std::string& path, const std::vector<NamedTrained>& parts) {
    const Reader r(path);
    std::string names;
    for (const NamedTrained& p : parts) names += (names.empty() ? "" : ",") + p.name;
    SR_CHECK(r.has("parts"), "checkpoint '", path, "' is of an SR run (model '", r.meta("model"), "'), not of a run with networks ", names);
    SR_CHECK(r.meta("parts") == names, "checkpoint '", path, "' holds the networks ", r.meta("parts"), ", this run trains ", names);
    for (const NamedTrained& p : parts) {
        r.check_spec("model_" + p.name, p.trained.spec, ("network " + p.name).c_str());
        r.restore(p.trained, "net_" + p.name, "optim_" + p.name);
    }
    return r.state();
}

}  // namespace sr
