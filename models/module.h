// Modules: the building blocks of networks, as torch.nn.Module.
//
// A module owns named parameters (trainable tensors), named buffers (state such as batch-norm
// running statistics) and named child modules. Names compose with dots exactly as in PyTorch's
// state_dict, so `body.0.rdb1.conv1.weight` in a BasicSR checkpoint is the same tensor here:
//
//   struct Block : Module {
//       Conv2d& conv1 = add("conv1", Conv2d(64, 64, 3));
//       Tensor forward(const Tensor& x) { return x + conv1(x); }
//   };
//
// Modules hold tensor handles: loading a state dict copies values into the existing tensors, so an
// optimiser holding them keeps working. Architectures are compositions of ops; no module here has
// backward code.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/safetensors.h"
#include "core/tensor.h"

namespace sr {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
public:
    Module() = default;
    virtual ~Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;
    Module(Module&&) = default;
    Module& operator=(Module&&) = default;

    // Registration, in the order PyTorch registers them (it decides the state_dict order). The
    // returned handle shares its TensorImpl with the registered one.
    Tensor add_parameter(const std::string& name, Tensor value);
    Tensor add_buffer(const std::string& name, Tensor value);
    template <class M>
    M& add(const std::string& name, M module) {
        auto owned = std::make_shared<M>(std::move(module));
        M& ref = *owned;
        add_child(name, std::move(owned));
        return ref;
    }
    void add_child(const std::string& name, std::shared_ptr<Module> child);

    // Every parameter / buffer below this module, with dotted names, in registration order.
    NamedTensors named_parameters() const;
    NamedTensors named_buffers() const;
    NamedTensors state_dict() const;  // parameters, then buffers, per module in order (as PyTorch)
    std::vector<Tensor> parameters() const;
    int64_t parameter_count() const;

    // Copies `tensors` into this module's parameters and buffers by name. Every one of them must be
    // present with the right shape; a name this module does not have is an error too unless
    // `allow_unexpected` (for files holding more than one network, or extra tensors).
    void load_state_dict(const NamedTensors& tensors, bool allow_unexpected = false);
    // From a safetensors file or a PyTorch checkpoint (core/pth.h; `key` picks its wrapper entry);
    // the original ESRGAN and EDSR-PyTorch names are renamed to BasicSR's (models/detect.h).
    void load(const std::string& path, bool allow_unexpected = false, const std::string& key = "");
    void save(const std::string& safetensors_path, const std::map<std::string, std::string>& metadata = {}) const;

    // Training mode (batch-norm batch statistics, spectral-norm power iteration) or evaluation.
    void train(bool on = true);
    void eval() { train(false); }
    bool is_training() const { return training_; }

    // Moves every parameter and buffer to `device` (in place: handles stay valid).
    void to(Device device);
    // Converts the floating-point ones to `dtype` (F64 for exact comparisons with PyTorch's double()).
    void to(DType dtype);

    // The child modules, for walking the tree (sr_info prints it).
    const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
    const NamedTensors& own_parameters() const { return params_; }
    const NamedTensors& own_buffers() const { return buffers_; }
    // A short type name for tables ("Conv2d", "RRDB").
    virtual std::string type_name() const { return "Module"; }

private:
    void collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const;
    NamedTensors params_, buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
    bool training_ = true;
};

// Children named "0", "1", ... as nn.Sequential / nn.ModuleList name them.
class ModuleList : public Module {
public:
    template <class M>
    M& push(M module) {
        return add(std::to_string(count_++), std::move(module));
    }
    // Registers a child under a given index (nn.Sequential numbers layers without parameters too).
    template <class M>
    M& put(int64_t index, M module) {
        count_ = std::max(count_, index + 1);
        return add(std::to_string(index), std::move(module));
    }
    std::string type_name() const override { return "ModuleList"; }

private:
    int64_t count_ = 0;
};

// A network with one input and one output: SR generators and discriminators.
class Network : public Module {
public:
    virtual Tensor forward(const Tensor& x) = 0;
    Tensor operator()(const Tensor& x) { return forward(x); }
    // A typical input shape (sr_info measures FLOPs with it).
    virtual Shape example_input() const { return {1, in_channels_, 32, 32}; }

    // How whole images go through the network (models/upscale.h uses these). SR networks take
    // and give values in [0, 1], at any size, and see only a neighbourhood of each pixel, so
    // tiles can cut an image up. CycleGAN's generator works in [-1, 1] (tanh), needs sides that
    // are multiples of 4, and its instance norms take statistics over the whole image, so a tile
    // would change its output.
    struct ValueRange {
        double low = 0, high = 1;
    };
    virtual ValueRange value_range() const { return {}; }
    virtual int64_t size_multiple() const { return 1; }
    virtual bool whole_image_only() const { return false; }

    // A network that draws random numbers in training (the transformers' stochastic depth) draws
    // them from the stream `seed` names. The trainer sets one per iteration, from (seed,
    // iteration, rank), so a resumed run draws what the uninterrupted one did.
    virtual void set_random_stream(uint64_t seed) { (void)seed; }

protected:
    int64_t in_channels_ = 3;
};

}  // namespace sr
