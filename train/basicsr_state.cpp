#include "train/basicsr_state.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "autograd/node.h"
#include "core/file.h"
#include "core/pth.h"
#include "models/detect.h"
#include "ops/layout.h"

namespace sr {

namespace fs = std::filesystem;
using pickle::Value;
using Kind = Value::Kind;

namespace {

const Value& entry(const Value& dict, const std::string& key, Kind kind, const std::string& what) {
    const Value* v = dict.find(key);
    SR_CHECK(v, what, " has no '", key, "' (not a BasicSR training state?)");
    SR_CHECK(v->is(kind), what, ": '", key, "' is a ", pickle::kind_name(v->kind), ", not a ", pickle::kind_name(kind));
    return *v;
}

double number(const Value& v, const std::string& what) {
    SR_CHECK(v.is(Kind::Float) || v.is(Kind::Int) || v.is(Kind::Bool), what, " is a ", pickle::kind_name(v.kind), ", not a number");
    return v.is(Kind::Float) ? v.number : double(v.integer);
}

double number_entry(const Value& dict, const std::string& key, const std::string& what) {
    const Value* v = dict.find(key);
    SR_CHECK(v, what, " has no '", key, "'");
    return number(*v, what + " " + key);
}

// One network's weights file, as BasicSR's save_network wrote it, under srforge's names.
NamedTensors weights_in(const fs::path& file, const std::string& key) {
    SR_CHECK(fs::exists(file), "resume: '", file.string(), "' does not exist; BasicSR writes a network's weights there beside "
             "training_states/ (was models/ moved, or is path.resume_state not in an experiment folder?)");
    return with_basicsr_names(read_pth(file.string(), key).tensors);
}

// The network's parameter names in BasicSR's order: the file's (a state dict), less its buffers.
std::vector<std::string> parameter_order(const NamedTensors& file, const Module& net) {
    std::map<std::string, bool> is_parameter;
    for (const auto& [n, t] : net.named_parameters()) is_parameter[n] = true;
    std::vector<std::string> order;
    for (const auto& [n, t] : file)
        if (is_parameter.count(n)) order.push_back(n);
    return order;
}

// The hyper-parameters the run was saved with must be the ones this run steps with.
void check_hyperparameters(const Value& group, const AdamOptions& o, const std::string& what) {
    // A tuple as PyTorch's default, a list as BasicSR passes its YAML's [0.9, 0.99] through.
    const Value* betas_value = group.find("betas");
    SR_CHECK(betas_value && (betas_value->is(Kind::Tuple) || betas_value->is(Kind::List)), what, " has no 'betas' pair");
    const Value& betas = *betas_value;
    SR_CHECK(betas.items.size() == 2, what, ": 'betas' holds ", betas.items.size(), " numbers, not 2");
    const double b1 = number(*betas.items[0], what + " beta1"), b2 = number(*betas.items[1], what + " beta2");
    const double eps = number_entry(group, "eps", what), decay = number_entry(group, "weight_decay", what);
    for (const char* variant : {"amsgrad", "maximize"}) {
        const Value* v = group.find(variant);
        SR_CHECK(!v || (v->is(Kind::Bool) && v->integer == 0), what, " uses Adam's '", variant, "', which srforge's Adam does not have");
    }
    SR_CHECK(b1 == o.beta1 && b2 == o.beta2 && eps == o.eps && decay == o.weight_decay, what, " was saved with betas [", b1, ", ", b2,
             "], eps ", eps, ", weight_decay ", decay, ", but this run's option file says betas [", o.beta1, ", ", o.beta2, "], eps ",
             o.eps, ", weight_decay ", o.weight_decay, ": use the option file the run was started with");
}

// Every parameter index of the optimiser, in order, after checking each group's hyper-parameters.
std::vector<int64_t> parameter_indices(const Value& optimizer, const AdamOptions& o, const std::string& what) {
    std::vector<int64_t> indices;
    for (pickle::Ref group : entry(optimizer, "param_groups", Kind::List, what).items) {
        SR_CHECK(group->is(Kind::Dict), what, ": a parameter group is a ", pickle::kind_name(group->kind));
        check_hyperparameters(*group, o, what);
        for (pickle::Ref i : entry(*group, "params", Kind::List, what).items) {
            SR_CHECK(i->is(Kind::Int), what, ": a parameter index is a ", pickle::kind_name(i->kind));
            indices.push_back(i->integer);
        }
    }
    return indices;
}

// Adam's step count, an int before PyTorch 1.12 and a one-element tensor since.
int64_t step_of(const PthObject& file, const Value& per_parameter, const std::string& what) {
    const Value* step = per_parameter.find("step");
    SR_CHECK(step, what, " has no 'step'");
    const double v = step->is(Kind::Tensor) ? file.tensor(*step, "step").item() : number(*step, what + " step");
    SR_CHECK(v >= 0 && v < 1e15 && v == std::floor(v), what, ": step ", v, " is not a count");
    return int64_t(v);
}

// Adam's moments into `t`'s optimiser; `order` names the network's parameter behind each index.
void restore_optimizer(const PthObject& file, const Value& optimizer, const std::vector<std::string>& order, const Trained& t,
                       const std::string& what) {
    SR_CHECK(optimizer.is(Kind::Dict), what, " is a ", pickle::kind_name(optimizer.kind), ", not an optimiser's state dict");
    const std::vector<int64_t> indices = parameter_indices(optimizer, t.optimizer->options(), what);
    SR_CHECK(indices.size() == order.size(), what, " steps ", indices.size(), " parameters, but the network's weights file holds ",
             order.size(), " of the parameters of '", t.spec, "': not this network");
    const Value& state = entry(optimizer, "state", Kind::Dict, what);
    std::map<std::string, size_t> position;  // our parameter name -> its index in the optimiser
    const NamedTensors params = t.net->named_parameters();
    for (size_t i = 0; i < params.size(); ++i) position[params[i].first] = i;
    NoGradGuard no_grad;
    int64_t steps = -1;
    for (size_t k = 0; k < indices.size(); ++k) {
        const std::string name = order[k], at = what + " (parameter " + std::to_string(indices[k]) + ", " + name + ")";
        const Value* s = state.find(indices[k]);
        SR_CHECK(s && s->is(Kind::Dict), at, " has no state: the run was saved before its first step?");
        const size_t i = position.at(name);
        const int64_t step = step_of(file, *s, at);
        SR_CHECK(steps < 0 || step == steps, at, " has taken ", step, " steps, the others ", steps, ": srforge's Adam keeps one count");
        steps = step;
        for (const char* moment : {"exp_avg", "exp_avg_sq"}) {
            const Value* m = s->find(moment);
            SR_CHECK(m, at, " has no '", moment, "'");
            const Tensor x = file.tensor(*m, name + "." + moment);
            SR_CHECK(x.shape() == params[i].second.shape(), at, ": '", moment, "' has shape ", x.shape(), ", the parameter ",
                     params[i].second.shape());
            copy_(moment == std::string("exp_avg") ? t.optimizer->exp_avg()[i] : t.optimizer->exp_avg_sq()[i], x);
        }
    }
    t.optimizer->set_steps(std::max<int64_t>(steps, 0));
}

// net_{label}_N.pth into the network, then its optimiser from the state.
void restore(const PthObject& file, const Value& optimizer, const fs::path& models, const std::string& label, int64_t iteration,
             const Trained& t, const std::string& what) {
    const fs::path weights = models / ("net_" + label + "_" + std::to_string(iteration) + ".pth");
    const NamedTensors tensors = weights_in(weights, "params");
    t.net->load_state_dict(tensors);
    restore_optimizer(file, optimizer, parameter_order(tensors, *t.net), t, what + ": the optimiser of net_" + label);
}

// BasicSR keeps the EMA as "params_ema" in the generator's file (and falls back to "params").
void restore_ema(const fs::path& weights, Ema& ema) {
    std::map<std::string, const Tensor*> given;
    const NamedTensors tensors = weights_in(weights, "params_ema");
    for (const auto& [n, t] : tensors) given[n] = &t;
    NoGradGuard no_grad;
    for (auto& [n, t] : ema.state()) {
        auto it = given.find(n);
        SR_CHECK(it != given.end(), "resume: '", weights.string(), "' has no EMA weight '", n, "'");
        SR_CHECK(it->second->shape() == t.shape(), "resume: '", weights.string(), "': EMA weight '", n, "' has shape ",
                 it->second->shape(), ", the model ", t.shape());
        copy_(t, *it->second);
    }
}

}  // namespace

bool is_pytorch_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string head(4, '\0');
    in.read(head.data(), 4);
    head.resize(size_t(in.gcount()));
    return is_pth(head);
}

RunState load_basicsr_state(const std::string& state_path, const Trained& g, Ema* ema, const Trained* d, uint64_t seed) {
    const std::string bytes = read_file(state_path);
    const PthObject file(bytes, state_path);
    const std::string what = "resume: '" + state_path + "'";
    SR_CHECK(file.root().is(Kind::Dict), what, " holds a ", pickle::kind_name(file.root().kind), ", not a BasicSR training state");
    const Value& iter = entry(file.root(), "iter", Kind::Int, what);
    SR_CHECK(iter.integer >= 0, what, ": 'iter' is ", iter.integer);
    const Value& optimizers = entry(file.root(), "optimizers", Kind::List, what);
    const size_t wanted = d ? 2 : 1;  // BasicSR's GAN models append optimizer_g, then optimizer_d
    SR_CHECK(optimizers.items.size() == wanted, what, " holds ", optimizers.items.size(), " optimisers, but this run trains ", wanted,
             d ? " (a generator and a discriminator)" : " (no discriminator)", ": use the option file the run was started with");
    const fs::path models = fs::path(state_path).parent_path().parent_path() / "models";
    restore(file, *optimizers.items[0], models, "g", iter.integer, g, what);
    if (d) restore(file, *optimizers.items[1], models, "d", iter.integer, *d, what);
    if (ema) restore_ema(models / ("net_g_" + std::to_string(iter.integer) + ".pth"), *ema);
    RunState state;
    state.iteration = iter.integer;
    state.seed = seed;
    return state;
}

}  // namespace sr
