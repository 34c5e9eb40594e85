#include "models/module.h"

#include <set>

#include "autograd/node.h"
#include "core/pth.h"
#include "models/detect.h"
#include "ops/layout.h"

namespace sr {

Tensor Module::add_parameter(const std::string& name, Tensor value) {
    SR_CHECK(value.defined(), "module: parameter '", name, "' is undefined");
    if (!value.requires_grad()) value.set_requires_grad(true);
    params_.emplace_back(name, value);
    return value;
}

Tensor Module::add_buffer(const std::string& name, Tensor value) {
    SR_CHECK(value.defined(), "module: buffer '", name, "' is undefined");
    buffers_.emplace_back(name, value);
    return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
    children_.emplace_back(name, std::move(child));
}

void Module::collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const {
    if (params)
        for (const auto& [n, t] : params_) out.emplace_back(prefix + n, t);
    if (buffers)
        for (const auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
    for (const auto& [n, c] : children_) c->collect(prefix + n + ".", params, buffers, out);
}

NamedTensors Module::named_parameters() const {
    NamedTensors out;
    collect("", true, false, out);
    return out;
}

NamedTensors Module::named_buffers() const {
    NamedTensors out;
    collect("", false, true, out);
    return out;
}

NamedTensors Module::state_dict() const {
    NamedTensors out;
    collect("", true, true, out);
    return out;
}

std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> out;
    for (auto& [n, t] : named_parameters()) out.push_back(t);
    return out;
}

int64_t Module::parameter_count() const {
    int64_t n = 0;
    for (const Tensor& t : parameters()) n += t.numel();
    return n;
}

void Module::load_state_dict(const NamedTensors& tensors, bool allow_unexpected) {
    std::map<std::string, const Tensor*> given;
    for (const auto& [n, t] : tensors) given[n] = &t;
    const NamedTensors mine = state_dict();
    std::set<std::string> known;
    std::vector<std::string> missing;
    for (const auto& [n, t] : mine) {
        known.insert(n);
        auto it = given.find(n);
        if (it == given.end()) {
            missing.push_back(n);
            continue;
        }
        SR_CHECK(it->second->shape() == t.shape(), "load_state_dict: '", n, "' has shape ", it->second->shape(),
                 " in the file but ", t.shape(), " in the model");
    }
    if (!missing.empty()) {
        std::string list;
        for (size_t i = 0; i < missing.size() && i < 6; ++i) list += (i ? ", " : "") + missing[i];
        if (missing.size() > 6) list += ", ... (" + std::to_string(missing.size()) + " in all)";
        fail("load_state_dict: missing ", list);
    }
    // PyTorch's batch norm counts its batches in an I64 buffer that srforge's does not keep; like
    // PyTorch loading an old file without it, the count is ignored by name.
    auto ignored = [](const std::string& n) { return n == "num_batches_tracked" || n.ends_with(".num_batches_tracked"); };
    if (!allow_unexpected)
        for (const auto& [n, t] : tensors)
            SR_CHECK(known.count(n) || ignored(n), "load_state_dict: unexpected tensor '", n,
                     "' (not a parameter or buffer of this model; allow unexpected names to ignore it)");
    NoGradGuard no_grad;
    for (const auto& [n, t] : mine) {
        const Tensor& src = *given.at(n);
        copy_(t, src.to(t.dtype()).to(t.device()));
    }
}

void Module::load(const std::string& path, bool allow_unexpected, const std::string& key) {
    load_state_dict(with_basicsr_names(read_weights(path, key).tensors), allow_unexpected);
}

void Module::save(const std::string& path, const std::map<std::string, std::string>& metadata) const {
    write_safetensors(path, state_dict(), metadata);
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [n, c] : children_) c->train(on);
}

void Module::to(Device device) {
    NoGradGuard no_grad;
    for (auto& [n, t] : state_dict())
        if (t.device() != device) t.set_data(t.detach().to(device));
}

void Module::to(DType dtype) {
    NoGradGuard no_grad;
    for (auto& [n, t] : state_dict())
        if (t.dtype() != dtype && is_floating(t.dtype())) t.set_data(t.detach().to(dtype));
}

}  // namespace sr
