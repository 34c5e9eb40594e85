#include "models/spec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "core/factory.h"
#include "core/pth.h"
#include "core/safetensors.h"
#include "models/detect.h"

namespace sr {

namespace {

// "a=1,depths=[6,6],b=x" -> {"a=1", "depths=[6,6]", "b=x"}: commas inside brackets belong to a list.
std::vector<std::string> spec_items(const std::string& rest, const std::string& spec) {
    std::vector<std::string> items(1);
    int depth = 0;
    for (char c : rest) {
        if (c == '[') ++depth;
        if (c == ']') SR_CHECK(--depth >= 0, "model spec: ']' without '[' in '", spec, "'");
        if (c == ',' && depth == 0) {
            items.emplace_back();
            continue;
        }
        items.back() += c;
    }
    SR_CHECK(depth == 0, "model spec: '[' without ']' in '", spec, "'");
    return items;
}

}  // namespace

ModelArgs::ModelArgs(const std::string& spec) : spec_(spec) {
    const size_t colon = spec.find(':');
    name_ = spec.substr(0, colon);
    SR_CHECK(!name_.empty(), "model spec: no model name in '", spec, "'");
    if (colon == std::string::npos) return;
    for (const std::string& item : spec_items(spec.substr(colon + 1), spec)) {
        if (item.empty()) continue;
        const size_t eq = item.find('=');
        SR_CHECK(eq != std::string::npos && eq > 0, "model spec: expected key=value, got '", item, "' in '", spec, "'");
        const std::string key = item.substr(0, eq);
        SR_CHECK(!values_.count(key), "model spec: key '", key, "' given twice in '", spec, "'");
        values_[key] = item.substr(eq + 1);
    }
}

const std::string* ModelArgs::find(const std::string& key) {
    asked_.insert(key);
    auto it = values_.find(key);
    return it == values_.end() ? nullptr : &it->second;
}

int64_t ModelArgs::integer(const std::string& key, int64_t fallback) {
    const std::string* v = find(key);
    if (!v) return fallback;
    int64_t out = 0;
    const auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
    SR_CHECK(ec == std::errc() && ptr == v->data() + v->size(), name_, ": ", key, " must be an integer, got '", *v, "'");
    return out;
}

double ModelArgs::number(const std::string& key, double fallback) {
    const std::string* v = find(key);
    if (!v) return fallback;
    char* end = nullptr;
    const double out = std::strtod(v->c_str(), &end);
    SR_CHECK(end == v->c_str() + v->size() && !v->empty(), name_, ": ", key, " must be a number, got '", *v, "'");
    return out;
}

bool ModelArgs::flag(const std::string& key, bool fallback) {
    const std::string* v = find(key);
    if (!v) return fallback;
    if (*v == "true" || *v == "1") return true;
    if (*v == "false" || *v == "0") return false;
    fail(name_, ": ", key, " must be true or false, got '", *v, "'");
}

std::string ModelArgs::text(const std::string& key, const std::string& fallback) {
    const std::string* v = find(key);
    return v ? *v : fallback;
}

std::vector<double> ModelArgs::numbers(const std::string& key, const std::vector<double>& fallback) {
    const std::string* v = find(key);
    if (!v) return fallback;
    std::vector<double> out;
    size_t start = 0;
    while (true) {
        const size_t slash = v->find('/', start);
        const std::string part = v->substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        char* end = nullptr;
        out.push_back(std::strtod(part.c_str(), &end));
        SR_CHECK(!part.empty() && end == part.c_str() + part.size(), name_, ": ", key,
                 " must be numbers separated by '/', got '", *v, "'");
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    return out;
}

std::vector<int64_t> ModelArgs::integers(const std::string& key, const std::vector<int64_t>& fallback) {
    const std::string* v = find(key);
    if (!v) return fallback;
    // "[6,6,6,6]" as written in a spec, or "6/6/6/6" as train_sr writes a YAML list.
    const bool bracketed = v->size() >= 2 && v->front() == '[' && v->back() == ']';
    const std::string inner = bracketed ? v->substr(1, v->size() - 2) : *v;
    const char separator = bracketed ? ',' : '/';
    std::vector<int64_t> out;
    for (size_t start = 0; start <= inner.size() && !inner.empty();) {
        const size_t end = std::min(inner.find(separator, start), inner.size());
        std::string part = inner.substr(start, end - start);
        part.erase(0, part.find_first_not_of(' '));
        part.erase(part.find_last_not_of(' ') + 1);
        int64_t value = 0;
        const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        SR_CHECK(!part.empty() && ec == std::errc() && ptr == part.data() + part.size(), name_, ": ", key,
                 " must be a list of integers written as in Python, e.g. [6,6,6,6], got '", *v, "'");
        out.push_back(value);
        start = end + 1;
    }
    SR_CHECK(!out.empty(), name_, ": ", key, " must not be an empty list");
    return out;
}

std::vector<std::pair<std::string, std::string>> spec_arguments(const std::string& spec) {
    const size_t colon = spec.find(':');
    std::vector<std::pair<std::string, std::string>> out;
    if (colon == std::string::npos) return out;
    for (const std::string& item : spec_items(spec.substr(colon + 1), spec)) {
        if (item.empty()) continue;
        const size_t eq = item.find('=');
        out.emplace_back(item.substr(0, eq), eq == std::string::npos ? "" : item.substr(eq + 1));
    }
    return out;
}

void ModelArgs::check_all_used() const {
    for (const auto& [key, value] : values_) {
        if (asked_.count(key)) continue;
        std::string known;
        for (const std::string& k : asked_) known += (known.empty() ? "" : ", ") + k;
        fail(name_, ": unknown argument '", key, "' (known: ", known, ")");
    }
}

}  // namespace sr

#include "models/cyclegan.h"
#include "models/discriminators.h"
#include "models/edsr.h"
#include "models/rdn.h"
#include "models/rrdbnet.h"
#include "models/srresnet.h"
#include "models/srvgg.h"
#include "models/drct.h"
#include "models/hat.h"
#include "models/swinir.h"
#include "models/vgg.h"

namespace sr {

namespace {

template <class M>
std::shared_ptr<Network> build(ModelArgs& args) {
    return std::make_shared<M>(args);
}

struct Entry {
    const char* name;
    std::shared_ptr<Network> (*make)(ModelArgs&);
};

const Entry kModels[] = {
    {"edsr", build<Edsr>},
    {"rdn", build<Rdn>},
    {"rrdn", build<Rrdn>},
    {"rrdbnet", build<RrdbNet>},
    {"msrresnet", build<MsrResNet>},
    {"srresnet", build<SrResNet>},
    {"srvgg_compact", build<SrVggNetCompact>},
    {"vgg_discriminator", build<VggStyleDiscriminator>},
    {"unet_discriminator_sn", build<UNetDiscriminatorSN>},
    {"vgg19", build<Vgg19Features>},
    {"resnet_generator", build<ResnetGenerator>},
    {"patchgan_discriminator", build<PatchGanDiscriminator>},
    {"swinir", build<SwinIR>},
    {"hat", build<Hat>},
    {"drct", build<Drct>},
};

}  // namespace

std::vector<std::string> model_names() {
    std::vector<std::string> names;
    for (const Entry& e : kModels) names.push_back(e.name);
    return names;
}

std::shared_ptr<Network> make_model(const std::string& spec) {
    ModelArgs args(spec);
    for (const Entry& e : kModels) {
        if (args.name() != e.name) continue;
        std::shared_ptr<Network> model = e.make(args);
        args.check_all_used();
        return model;
    }
    std::string known;
    for (const Entry& e : kModels) known += (known.empty() ? "" : ", ") + std::string(e.name);
    fail("model spec: unknown model '", args.name(), "' (known: ", known, ")");
}

namespace {

// "edsr:num_feat=64,num_block=16" -> its name and arguments.
std::pair<std::string, std::map<std::string, std::string>> spec_parts(const std::string& spec) {
    std::map<std::string, std::string> args;
    for (const auto& [key, value] : spec_arguments(spec)) args[key] = value;
    return {spec.substr(0, spec.find(':')), args};
}

void check_same_network(const std::string& given, const std::string& stored, const std::string& path) {
    const auto [name, args] = spec_parts(given);
    const auto [stored_name, stored_args] = spec_parts(stored);
    SR_CHECK(name == stored_name, "'", path, "' holds the weights of '", stored, "', not of a ", name, " (--model ", given, ")");
    for (const auto& [key, value] : args) {
        const auto it = stored_args.find(key);
        SR_CHECK(it == stored_args.end() || it->second == value, "'", path, "' holds the weights of '", stored, "': ", key, "=",
                 it->second, ", but --model says ", key, "=", value);
    }
}

void check_finite(const NamedTensors& tensors, const std::string& path) {
    for (const auto& [name, t] : tensors) {
        if (t.dtype() != DType::F32 && t.dtype() != DType::F64) continue;
        for (double v : to_vector(t))
            SR_CHECK(std::isfinite(v), "'", path, "': tensor '", name, "' holds ", v, " (NaN or infinity): these weights cannot give an image");
    }
}

// The bytes the file's tensors take once loaded (F16 and BF16 are widened to F32).
size_t tensor_bytes(const NamedTensors& tensors) {
    size_t bytes = 0;
    for (const auto& [name, t] : tensors) bytes += static_cast<size_t>(t.numel()) * itemsize(t.dtype());
    return bytes;
}

// The spec the file states: its metadata's (as train_sr writes it), or the one its names and
// shapes prove (models/detect.h); "" when neither, and `spec` was given.
std::string stored_spec(SafetensorsFile& file, const std::string& spec, const std::string& path) {
    if (auto it = file.metadata.find("model"); it != file.metadata.end()) return it->second;
    try {
        DetectedNetwork d = detect_network(file.tensors);
        file.tensors = std::move(d.tensors);
        return d.spec;
    } catch (const Error& e) {
        if (!spec.empty()) return "";  // --model says what it is
        fail("'", path, "' does not name its model (give --model), and ", e.what());
    }
}

}  // namespace

std::shared_ptr<Network> load_network(const std::string& spec, const std::string& weights_path, bool allow_unexpected,
                                      std::string* used_spec) {
    SafetensorsFile file = read_weights(weights_path);
    file.tensors = with_basicsr_names(file.tensors);
    check_finite(file.tensors, weights_path);
    // A network that loads strictly needs no more bytes than the file holds, so everything built
    // here (detection's proof included) is capped: a spec implying far more (a hostile or mistyped
    // file) stops early with this message, not after minutes and gigabytes. The slack covers
    // buffers the file may lack and the temporaries of weight initialisation.
    const size_t held = tensor_bytes(file.tensors), cap = 8 * held + (size_t(64) << 20);
    AllocationCap guard(cap, "'" + weights_path + "' holds " + std::to_string(held >> 10) + " KiB of tensors, but the model '" +
                                 (spec.empty() ? "it names" : spec) + "' needs more than " + std::to_string(cap >> 20) +
                                 " MiB: the spec does not match these weights");
    const std::string stored = stored_spec(file, spec, weights_path);
    if (!spec.empty() && !stored.empty()) check_same_network(spec, stored, weights_path);
    std::shared_ptr<Network> model = make_model(spec.empty() ? stored : spec);
    model->load_state_dict(file.tensors, allow_unexpected);
    if (used_spec) *used_spec = spec.empty() ? stored : spec;
    return model;
}

}  // namespace sr
