#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "core/gpu.h"

namespace sr {

namespace {

constexpr size_t kCpuAlignment = 64;  // one cache line; also what AVX-512 loads like

// Host memory with a small cache for large blocks. The C library returns big blocks to the
// operating system when they are freed, and the next training step then pays a page fault (and a
// page clearing) for every 4 KiB of every activation again. Freed blocks of 1 MiB or more are kept
// by size, up to 2 GiB in all, and handed out again to the next request of the same size.
class HostMemory {
public:
    void* allocate(size_t nbytes) {
        const size_t size = round(nbytes);
        if (size >= kCacheFrom) {
            std::lock_guard<std::mutex> lock(mutex_);
            auto it = cached_.find(size);
            if (it != cached_.end() && !it->second.empty()) {
                void* p = it->second.back();
                it->second.pop_back();
                cached_bytes_ -= size;
                return p;
            }
        }
        void* p = std::aligned_alloc(kCpuAlignment, size);
        SR_CHECK(p != nullptr, "tensor: out of host memory allocating ", nbytes, " bytes");
        return p;
    }
    void release(void* p, size_t nbytes) {
        const size_t size = round(nbytes);
        if (size >= kCacheFrom) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (cached_bytes_ + size <= kCacheLimit) {
                cached_[size].push_back(p);
                cached_bytes_ += size;
                return;
            }
        }
        std::free(p);
    }

private:
    static constexpr size_t kCacheFrom = size_t(1) << 20, kCacheLimit = size_t(2) << 30;
    static size_t round(size_t n) { return (std::max<size_t>(n, 1) + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment; }
    std::mutex mutex_;
    std::map<size_t, std::vector<void*>> cached_;
    size_t cached_bytes_ = 0;
};

HostMemory& host_memory() {
    static HostMemory* memory = new HostMemory;  // never destroyed: tensors may outlive static destructors
    return *memory;
}

// The active AllocationCap of this thread, if any.
struct ThreadCap {
    bool active = false;
    size_t left = 0;
    std::string message;
};
thread_local ThreadCap thread_cap;

void charge_cap(size_t nbytes) {
    if (!thread_cap.active) return;
    SR_CHECK(nbytes <= thread_cap.left, thread_cap.message);
    thread_cap.left -= nbytes;
}

}  // namespace

AllocationCap::AllocationCap(size_t bytes, std::string message) {
    SR_CHECK(!thread_cap.active, "AllocationCap: one is already active on this thread");
    thread_cap = {true, bytes, std::move(message)};
}

AllocationCap::~AllocationCap() { thread_cap = {}; }

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device) {
    charge_cap(nbytes);
    void* data = device.is_cpu() ? host_memory().allocate(nbytes) : gpu::allocate(nbytes, device.index);
    return std::make_shared<Storage>(data, nbytes, device);
}

Storage::~Storage() {
    if (device.is_cpu()) host_memory().release(data, nbytes);
    else gpu::release(data, device.index);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
    int64_t count = 1;
    for (int64_t s : shape) {
        SR_CHECK(s >= 0, "tensor: negative size in shape ", shape);
        SR_CHECK(s == 0 || count <= (int64_t(1) << 62) / s, "tensor: shape ", shape, " has too many elements");
        count *= s;
    }
    SR_CHECK(device.is_cpu() || dtype == DType::F32, "tensor: CUDA tensors are F32, got ", name(dtype), " for shape ", shape);
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = Storage::allocate(static_cast<size_t>(sr::numel(shape)) * itemsize(dtype), device);
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    impl->dtype = dtype;
    return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim(d, shape().size(), "size")]; }

bool Tensor::is_contiguous() const {
    // Dimensions of size 1 may have any stride: they are never stepped over.
    int64_t expected = 1;
    for (size_t d = shape().size(); d-- > 0;) {
        if (shape()[d] == 1) continue;
        if (strides()[d] != expected) return false;
        expected *= shape()[d];
    }
    return true;
}

double Tensor::item() const {
    SR_CHECK(numel() == 1, "item: expects a tensor with one element, got shape ", shape());
    double value = 0;
    auto read = [&]<class T>() {
        T v;
        if (is_cpu()) v = *data<T>();
        else gpu::copy_device_to_host(&v, data<T>(), sizeof(T), device().index);
        value = static_cast<double>(v);
    };
    dispatch_any(dtype(), read);
    return value;
}

Tensor Tensor::as_strided(const Shape& shape, const Strides& strides, int64_t offset) const {
    SR_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape, " and strides ", strides,
             " differ in length");
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = storage();
    impl->shape = shape;
    impl->strides = strides;
    impl->offset = offset;
    impl->dtype = dtype();
    return Tensor(std::move(impl));
}

Tensor Tensor::detach() const { return as_strided(shape(), strides(), offset()); }

Tensor& Tensor::set_requires_grad(bool value) {
    SR_CHECK(defined(), "requires_grad: undefined tensor");
    SR_CHECK(is_leaf(), "requires_grad: can only be set on a leaf tensor (one no op produced), got ", *this);
    SR_CHECK(!value || is_floating(dtype()), "requires_grad: a ", name(dtype()), " tensor cannot have a gradient");
    impl_->requires_grad = value;
    return *this;
}

void Tensor::set_data(const Tensor& other) const {
    SR_CHECK(defined() && other.defined(), "set_data: undefined tensor");
    SR_CHECK(is_leaf(), "set_data: only a leaf tensor's data can be replaced, got ", *this);
    TensorImpl& t = *impl_;
    const TensorImpl& o = *other.impl_;
    t.storage = o.storage;
    t.shape = o.shape;
    t.strides = o.strides;
    t.offset = o.offset;
    t.dtype = o.dtype;
}

void Tensor::set_grad_fn(std::shared_ptr<Node> node, int output_nr) const {
    impl_->grad_fn = std::move(node);
    impl_->output_nr = output_nr;
    impl_->requires_grad = impl_->grad_fn != nullptr;
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
    if (!t.defined()) return os << "(undefined tensor)";
    return os << name(t.dtype()) << ' ' << t.device() << ' ' << to_string(t.shape());
}

}  // namespace sr
