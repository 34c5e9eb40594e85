// Tensor: a view (shape, strides, offset, dtype) onto reference-counted Storage.
//
// A Tensor is a handle: copying it shares the same TensorImpl, as in PyTorch, so `b = a` makes
// `b.grad()` and `a.grad()` the same thing. Views made by reshape/slice/permute/expand share the
// Storage but have a TensorImpl of their own.
//
// core/ carries the autograd slots of a tensor (requires_grad, grad, the node that made it) but
// knows nothing of how they are used; that is autograd/. The layout methods that must be
// recorded for backward (reshape, slice, permute, expand, contiguous, clone, to) are declared here
// and defined in ops/layout.cpp, beside their backward nodes; the arithmetic operators likewise
// live in ops/elementwise.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/shape.h"

namespace sr {

class Node;  // autograd/node.h

// Bytes on one device. Freed (or returned to the caching allocator) with the last reference.
struct Storage {
    void* data = nullptr;
    size_t nbytes = 0;
    Device device;

    static std::shared_ptr<Storage> allocate(size_t nbytes, Device device);
    Storage(void* data, size_t nbytes, Device device) : data(data), nbytes(nbytes), device(device) {}
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
};

// Caps the bytes this thread may allocate while the guard lives; an allocation past the cap is an
// sr::Error carrying `message`. load_network builds a model from an untrusted file's spec under one:
// a spec that implies far more weights than the file holds (`edsr:num_feat=6000` in a 490 KB file)
// stops after a few megabytes instead of allocating gigabytes before the shape check. Counts every
// allocation made under it, freed or not, so temporaries count too; not nestable.
class AllocationCap {
public:
    AllocationCap(size_t bytes, std::string message);
    ~AllocationCap();
    AllocationCap(const AllocationCap&) = delete;
    AllocationCap& operator=(const AllocationCap&) = delete;
};

struct TensorImpl;

class Tensor {
public:
    Tensor() = default;  // an undefined tensor: the "no gradient yet" of grad(), for example
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

    // An uninitialised contiguous tensor.
    static Tensor empty(const Shape& shape, DType dtype, Device device);

    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const;
    const Strides& strides() const;
    int64_t offset() const;
    DType dtype() const;
    Device device() const;
    int dim() const { return static_cast<int>(shape().size()); }
    int64_t size(int64_t d) const;  // negative d counts from the end
    int64_t numel() const { return sr::numel(shape()); }
    bool is_cpu() const { return device().is_cpu(); }
    bool is_cuda() const { return device().is_cuda(); }
    bool is_contiguous() const;
    bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
    const void* identity() const { return impl_.get(); }  // what is_same compares: a key for maps
    const std::shared_ptr<Storage>& storage() const;

    // Pointer to element [0, 0, ...] (storage + offset). T must match dtype().
    template <class T>
    T* data() const;
    void* raw_data() const;

    // The value of a one-element tensor as double (copied from the GPU when needed).
    double item() const;

    // A view sharing this tensor's storage; no autograd history (ops use it inside kernels).
    Tensor as_strided(const Shape& shape, const Strides& strides, int64_t offset) const;
    // The same data, cut from the autograd graph: requires_grad false, no grad_fn.
    Tensor detach() const;

    // Layout operations, recorded by autograd (defined in ops/layout.cpp).
    Tensor reshape(const Shape& shape) const;  // one entry may be -1; a view when possible
    Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
    Tensor permute(const std::vector<int64_t>& dims) const;
    Tensor expand(const Shape& shape) const;  // broadcast size-1 dims with stride 0
    Tensor contiguous() const;                // this tensor if already contiguous, else a copy
    Tensor clone() const;                     // always a contiguous copy
    Tensor to(Device device) const;
    Tensor to(DType dtype) const;

    // Autograd slots (see autograd/).
    bool requires_grad() const;
    // Marks a leaf (a parameter or an input) whose gradient backward() should accumulate.
    Tensor& set_requires_grad(bool value);
    const Tensor& grad() const;
    void set_grad(const Tensor& grad) const;
    const std::shared_ptr<Node>& grad_fn() const;
    int output_nr() const;  // which output of grad_fn() this tensor is
    void set_grad_fn(std::shared_ptr<Node> node, int output_nr) const;
    bool is_leaf() const { return grad_fn() == nullptr; }

    const std::shared_ptr<TensorImpl>& impl() const { return impl_; }

    // Makes this tensor (every handle to it) refer to `other`'s data, shape and device; autograd
    // slots stay. For moving a module's parameters between devices in place.
    void set_data(const Tensor& other) const;

private:
    const TensorImpl& get() const;
    std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
    std::shared_ptr<Storage> storage;
    Shape shape;
    Strides strides;
    int64_t offset = 0;  // in elements
    DType dtype = DType::F32;

    bool requires_grad = false;
    Tensor grad;
    std::shared_ptr<Node> grad_fn;
    int output_nr = 0;
};

inline const TensorImpl& Tensor::get() const {
    SR_CHECK(impl_ != nullptr, "tensor: use of an undefined tensor");
    return *impl_;
}
inline const Shape& Tensor::shape() const { return get().shape; }
inline const Strides& Tensor::strides() const { return get().strides; }
inline int64_t Tensor::offset() const { return get().offset; }
inline DType Tensor::dtype() const { return get().dtype; }
inline Device Tensor::device() const { return get().storage->device; }
inline const std::shared_ptr<Storage>& Tensor::storage() const { return get().storage; }
inline bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }
inline const Tensor& Tensor::grad() const { return get().grad; }
inline void Tensor::set_grad(const Tensor& grad) const { const_cast<TensorImpl&>(get()).grad = grad; }
inline const std::shared_ptr<Node>& Tensor::grad_fn() const { return get().grad_fn; }
inline int Tensor::output_nr() const { return get().output_nr; }

inline void* Tensor::raw_data() const {
    const TensorImpl& t = get();
    return static_cast<char*>(t.storage->data) + t.offset * static_cast<int64_t>(itemsize(t.dtype));
}

template <class T>
T* Tensor::data() const {
    SR_CHECK(dtype() == dtype_of<T>, "tensor: data<", name(dtype_of<T>), ">() on a ", name(dtype()),
             " tensor");
    return static_cast<T*>(raw_data());
}

using Tensors = std::vector<Tensor>;

// Arithmetic with broadcasting, recorded by autograd (defined in ops/elementwise.cpp).
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator-(const Tensor& a);

// "F32 cpu [2, 3, 5, 7]", for messages.
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace sr
