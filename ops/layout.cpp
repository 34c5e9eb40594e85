#include "ops/layout.h"

#include <numeric>

#include "autograd/node.h"
#include "core/factory.h"
#include "core/gpu.h"
#include "ops/functors.h"
#include "ops/map.h"
#include "ops/reduce.h"
#include "ops/registry.h"

namespace sr {

namespace {

void check_not_tracked(const Tensor& t, const char* op) {
    SR_CHECK(!(grad_enabled() && t.requires_grad()), op,
             ": in-place change of a tensor that requires grad; wrap it in NoGradGuard or use detach()");
}

// ---- reshape: dL/dx = reshape(dL/dy, x.shape) -------------------------------------------------

struct ReshapeBackward : Node {
    Shape input_shape;
    const char* name() const override { return "reshape"; }
    std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {g[0].reshape(input_shape)}; }
    void release() override {}
};

Shape infer_shape(const Shape& requested, int64_t count, const Shape& from) {
    Shape shape = requested;
    int infer = -1;
    int64_t known = 1;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == -1) {
            SR_CHECK(infer < 0, "reshape: only one dimension can be -1, got ", requested);
            infer = static_cast<int>(d);
        } else {
            SR_CHECK(shape[d] >= 0, "reshape: invalid size in ", requested);
            known *= shape[d];
        }
    }
    if (infer >= 0) {
        SR_CHECK(known > 0 && count % known == 0, "reshape: cannot reshape ", from, " into ", requested);
        shape[infer] = count / known;
    }
    SR_CHECK(numel(shape) == count, "reshape: cannot reshape ", from, " (", count, " elements) into ", requested);
    return shape;
}

// ---- slice: dL/dx = zeros with dL/dy written into the sliced positions -------------------------

struct SliceBackward : Node {
    Shape input_shape;
    int dim = 0;
    int64_t start = 0, end = 0, step = 1;
    const char* name() const override { return "slice"; }
    std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
        Tensor dx = zeros(input_shape, {g[0].dtype(), g[0].device()});
        copy_(dx.slice(dim, start, end, step), g[0]);
        return {dx};
    }
    void release() override {}
};

// ---- permute: dL/dx = permute(dL/dy, inverse permutation) -------------------------------------

struct PermuteBackward : Node {
    std::vector<int64_t> inverse;
    const char* name() const override { return "permute"; }
    std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {g[0].permute(inverse)}; }
    void release() override {}
};

// ---- expand: dL/dx = dL/dy summed over the broadcast dimensions --------------------------------

struct ExpandBackward : Node {
    Shape input_shape;
    const char* name() const override { return "expand"; }
    std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {sum_to(g[0], input_shape)}; }
    void release() override {}
};

// ---- contiguous and clone copy the data: dL/dx = dL/dy ----------------------------------------

struct CopyBackward : Node {
    const char* op;
    explicit CopyBackward(const char* op) : op(op) {}
    const char* name() const override { return op; }
    std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {g[0]}; }
    void release() override {}
};

// ---- to(device) and to(dtype): the gradient goes back to where the input was ------------------

struct ToDeviceBackward : Node {
    Device device;
    const char* name() const override { return "to_device"; }
    std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {g[0].to(device)}; }
    void release() override {}
};

struct ToDTypeBackward : Node {
    DType dtype = DType::F32;
    const char* name() const override { return "to_dtype"; }
    std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {g[0].to(dtype)}; }
    void release() override {}
};

Tensor copy_of(const Tensor& t) {
    Tensor out = Tensor::empty(t.shape(), t.dtype(), t.device());
    map_into("copy", out, Identity{}, t.detach());
    return out;
}

}  // namespace

Tensor Tensor::reshape(const Shape& requested) const {
    const Shape shape = infer_shape(requested, numel(), this->shape());
    Tensor base = is_contiguous() ? detach() : copy_of(*this);
    Tensor y = base.as_strided(shape, contiguous_strides(shape), base.offset());
    if (needs_grad({*this})) {
        auto node = std::make_shared<ReshapeBackward>();
        node->input_shape = this->shape();
        record(node, {*this}, {y});
    }
    return y;
}

Tensor Tensor::slice(int64_t dim, int64_t start, int64_t end, int64_t step) const {
    const int d = normalize_dim(dim, shape().size(), "slice");
    const int64_t n = shape()[d];
    SR_CHECK(step > 0, "slice: step must be positive, got ", step);
    auto clip = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
    start = clip(start);
    end = std::max(clip(end), start);
    Shape s = shape();
    Strides st = strides();
    s[d] = (end - start + step - 1) / step;
    st[d] = strides()[d] * step;
    Tensor y = as_strided(s, st, offset() + start * strides()[d]);
    if (needs_grad({*this})) {
        auto node = std::make_shared<SliceBackward>();
        node->input_shape = shape();
        node->dim = d;
        node->start = start;
        node->end = end;
        node->step = step;
        record(node, {*this}, {y});
    }
    return y;
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
    SR_CHECK(dims.size() == shape().size(), "permute: ", dims.size(), " dimensions given for a ", dim(),
             "-d tensor ", shape());
    std::vector<int64_t> inverse(dims.size(), -1);
    Shape s(dims.size());
    Strides st(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) {
        const int d = normalize_dim(dims[i], dims.size(), "permute");
        SR_CHECK(inverse[d] < 0, "permute: dimension ", d, " appears twice in ", dims);
        inverse[d] = static_cast<int64_t>(i);
        s[i] = shape()[d];
        st[i] = strides()[d];
    }
    Tensor y = as_strided(s, st, offset());
    if (needs_grad({*this})) {
        auto node = std::make_shared<PermuteBackward>();
        node->inverse = inverse;
        record(node, {*this}, {y});
    }
    return y;
}

Tensor Tensor::expand(const Shape& target) const {
    SR_CHECK(target.size() >= shape().size(), "expand: cannot expand ", shape(), " to fewer dimensions ", target);
    const size_t lead = target.size() - shape().size();
    Shape s(target.size());
    Strides st(target.size(), 0);
    for (size_t i = 0; i < target.size(); ++i) {
        if (i < lead) {
            SR_CHECK(target[i] >= 0, "expand: invalid size in ", target);
            s[i] = target[i];
            continue;
        }
        const int64_t have = shape()[i - lead];
        const int64_t want = target[i] == -1 ? have : target[i];
        SR_CHECK(want >= 0 && (want == have || have == 1), "expand: cannot expand ", shape(), " to ", target);
        s[i] = want;
        st[i] = want == have ? strides()[i - lead] : 0;
    }
    Tensor y = as_strided(s, st, offset());
    if (needs_grad({*this})) {
        auto node = std::make_shared<ExpandBackward>();
        node->input_shape = shape();
        record(node, {*this}, {y});
    }
    return y;
}

Tensor Tensor::contiguous() const {
    if (is_contiguous()) return *this;
    Tensor y = copy_of(*this);
    if (needs_grad({*this})) record(std::make_shared<CopyBackward>("contiguous"), {*this}, {y});
    return y;
}

Tensor Tensor::clone() const {
    Tensor y = copy_of(*this);
    if (needs_grad({*this})) record(std::make_shared<CopyBackward>("clone"), {*this}, {y});
    return y;
}

Tensor Tensor::to(Device target) const {
    if (device() == target) return *this;
    SR_CHECK(dtype() == DType::F32 || target.is_cpu(), "to: CUDA tensors are F32, got ", *this);
    const Tensor src = detach().contiguous();
    Tensor y = Tensor::empty(shape(), dtype(), target);
    const size_t nbytes = static_cast<size_t>(numel()) * itemsize(dtype());
    if (nbytes > 0) {
        if (src.is_cpu()) gpu::copy_host_to_device(y.raw_data(), src.raw_data(), nbytes, target.index);
        else if (target.is_cpu()) gpu::copy_device_to_host(y.raw_data(), src.raw_data(), nbytes, src.device().index);
        else gpu::copy_device_to_device(y.raw_data(), src.raw_data(), nbytes, target.index);
    }
    if (needs_grad({*this})) {
        auto node = std::make_shared<ToDeviceBackward>();
        node->device = device();
        record(node, {*this}, {y});
    }
    return y;
}

Tensor Tensor::to(DType target) const {
    if (dtype() == target) return *this;
    SR_CHECK(is_cpu(), "to: dtype conversion runs on the CPU, got ", *this);
    SR_CHECK(is_floating(target), "to: conversion to ", name(target), " is not defined (only to F32 and F64; quantise images with the image I/O), got ", *this);
    const Tensor src = detach().contiguous();
    Tensor y = Tensor::empty(shape(), target, device());
    const int64_t n = numel();
    dispatch_float(target, "to", [&]<class Out>() {
        Out* out = y.data<Out>();
        auto convert = [&]<class In>() {
            const In* in = src.data<In>();
            for (int64_t i = 0; i < n; ++i) out[i] = static_cast<Out>(in[i]);
        };
        dispatch_any(src.dtype(), convert);
    });
    if (needs_grad({*this})) {
        auto node = std::make_shared<ToDTypeBackward>();
        node->dtype = dtype();
        record(node, {*this}, {y});
    }
    return y;
}

void copy_(const Tensor& dst, const Tensor& src) {
    check_not_tracked(dst, "copy_");
    SR_CHECK(dst.dtype() == src.dtype(), "copy_: dtypes differ, destination ", dst, ", source ", src);
    broadcast_shapes(dst.shape(), src.shape(), "copy_");
    map_into("copy_", dst, Identity{}, src.detach().to(dst.device()));
}

}  // namespace sr

namespace sr {

std::vector<OpSpec> layout_specs() {
    auto one = [](const char* name, std::string label, Shape shape, std::function<Tensor(const Tensor&)> fn) {
        return OpSpec{name, __FILE__,
                      {{std::move(label), {std::move(shape)}, [fn](const Tensors& in) { return Tensors{fn(in[0])}; }}}};
    };
    OpSpec reshape = one("reshape", "[2,3,5,7]->[6,-1]", {2, 3, 5, 7}, [](const Tensor& x) { return x.reshape({6, -1}); });
    reshape.cases.push_back({"of a permuted view", {{2, 3, 5, 7}},
                             [](const Tensors& in) { return Tensors{in[0].permute({0, 2, 3, 1}).reshape({10, 21})}; }});
    OpSpec slice = one("slice", "dim 1, [1:3]", {2, 3, 5, 7}, [](const Tensor& x) { return x.slice(1, 1, 3); });
    slice.cases.push_back({"dim -1, [-5:-1:2]", {{2, 3, 5, 7}},
                           [](const Tensors& in) { return Tensors{in[0].slice(-1, -5, -1, 2)}; }});
    slice.cases.push_back({"two overlapping slices", {{2, 3, 5, 7}}, [](const Tensors& in) {
                               return Tensors{in[0].slice(2, 0, 4) * in[0].slice(2, 1, 5)};
                           }});
    return {
        reshape,
        slice,
        one("permute", "[0,2,3,1]", {2, 3, 5, 7}, [](const Tensor& x) { return x.permute({0, 2, 3, 1}); }),
        one("expand", "[3,1,7]->[2,3,5,7]", {3, 1, 7}, [](const Tensor& x) { return x.expand({2, 3, 5, 7}); }),
        one("contiguous", "of a permuted view", {2, 3, 5, 7},
            [](const Tensor& x) { return x.permute({1, 0, 3, 2}).contiguous(); }),
        one("clone", "2x3x5x7", {2, 3, 5, 7}, [](const Tensor& x) { return x.clone(); }),
    };
}

}  // namespace sr
