#include "core/keras.h"

#include <set>

#include "core/hdf5.h"

namespace sr {

namespace {

// A list attribute, whole or in Keras' numbered chunks; nullopt when neither is there.
std::optional<std::vector<std::string>> names_attribute(const hdf5::File& f, const std::string& path, const std::string& name) {
    if (auto whole = f.string_attribute(path, name)) return whole;
    std::optional<std::vector<std::string>> out;
    for (int chunk = 0; chunk < 4096; ++chunk) {  // Keras splits lists over 64 KB; 4096 chunks is far beyond any model
        const auto part = f.string_attribute(path, name + std::to_string(chunk));
        if (!part) return out;
        if (!out) out.emplace();
        out->insert(out->end(), part->begin(), part->end());
    }
    fail("Keras attribute '", name, "' of '", path, "' is split into more than 4096 chunks");
}

// Keras' [kh, kw, in, out] (or [in, out]) as PyTorch's [out, in, kh, kw] (or [out, in]).
Tensor torch_layout(const Tensor& kernel, const std::string& what) {
    const Shape& k = kernel.shape();
    SR_CHECK(k.size() == 2 || k.size() == 4, "'", what, "': a kernel of shape ", k, " (srforge reads those of convolutions and dense layers)");
    SR_CHECK(kernel.numel() > 0, "'", what, "': a kernel of shape ", k, " has no values");
    const int64_t taps = k.size() == 4 ? k[0] * k[1] : 1, in = k[k.size() - 2], out = k[k.size() - 1];
    const Shape shape = k.size() == 4 ? Shape{out, in, k[0], k[1]} : Shape{out, in};
    Tensor t = Tensor::empty(shape, DType::F32, Device::cpu());
    const float* src = kernel.data<float>();
    float* dst = t.data<float>();
    for (int64_t tap = 0; tap < taps; ++tap)
        for (int64_t i = 0; i < in; ++i)
            for (int64_t o = 0; o < out; ++o) dst[(o * in + i) * taps + tap] = src[(tap * in + i) * out + o];
    return t;
}

// "F_m1/kernel:0" -> "kernel".
std::string weight_kind(const std::string& path) {
    const size_t slash = path.rfind('/'), start = slash == std::string::npos ? 0 : slash + 1;
    return path.substr(start, path.find(':', start) - start);
}

}  // namespace

SafetensorsFile parse_keras_weights(const std::string& bytes, const std::string& what) {
    const hdf5::File f(bytes, what);
    const std::string root = f.exists("model_weights") ? "model_weights" : "";
    const auto layers = names_attribute(f, root, "layer_names");
    SR_CHECK(layers, "'", what, "' is an HDF5 file without Keras' 'layer_names': not Keras weights");
    SafetensorsFile out;
    std::set<std::string> names;
    for (const std::string& layer : *layers) {
        const std::string group = root + "/" + layer;
        const auto weights = names_attribute(f, group, "weight_names");
        SR_CHECK(weights, "'", what, "': layer '", layer, "' has no 'weight_names'");
        for (const std::string& w : *weights) {
            const Tensor t = f.dataset(group + "/" + w);
            const std::string kind = weight_kind(w), name = layer + "." + (kind == "kernel" ? "weight" : kind);
            // A nested model lists its inner layers' weights under one layer: not a layout srforge reads.
            SR_CHECK(names.insert(name).second, "'", what, "': layer '", layer, "' holds two weights named '", kind,
                     "' (a nested model?): srforge reads flat Keras models");
            out.tensors.emplace_back(name, kind == "kernel" ? torch_layout(t, w) : t);
        }
    }
    SR_CHECK(!out.tensors.empty(), "'", what, "' holds no layer weights (is it a Keras save_weights file?)");
    out.metadata["format"] = "keras-hdf5";
    return out;
}

}  // namespace sr
