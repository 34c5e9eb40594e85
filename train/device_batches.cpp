#include "train/device_batches.h"

#include <cstring>

#include "core/gpu.h"

namespace sr {

DeviceBatches::~DeviceBatches() {
    for (Slot& s : slots_) {
        if (s.lr_ticket >= 0) gpu::wait_on_host(s.lr_ticket, device_.index);
        if (s.hr_ticket >= 0) gpu::wait_on_host(s.hr_ticket, device_.index);
        gpu::release_pinned(s.lr_host);
        gpu::release_pinned(s.hr_host);
    }
}

std::pair<Tensor, Tensor> DeviceBatches::take(int64_t iter, bool more) {
    if (device_.is_cpu()) return data_.batch(iter);
    if (next_ != iter) start(iter);
    Slot& s = slots_[iter % 2];
    gpu::wait_on_device(s.lr_ticket, device_.index);
    gpu::wait_on_device(s.hr_ticket, device_.index);
    std::pair<Tensor, Tensor> batch{s.lr, s.hr};
    if (more) start(iter + 1);
    return batch;
}

void DeviceBatches::start(int64_t iter) {
    const auto [lr, hr] = data_.batch(iter);
    Slot& s = slots_[iter % 2];
    // The copy that last read this slot's page-locked buffers must be done before they change.
    if (s.lr_ticket >= 0) gpu::wait_on_host(s.lr_ticket, device_.index);
    if (s.hr_ticket >= 0) gpu::wait_on_host(s.hr_ticket, device_.index);
    if (!s.lr_host) {
        s.lr_host = static_cast<float*>(gpu::allocate_pinned(size_t(lr.numel()) * sizeof(float)));
        s.hr_host = static_cast<float*>(gpu::allocate_pinned(size_t(hr.numel()) * sizeof(float)));
    }
    std::memcpy(s.lr_host, lr.data<float>(), size_t(lr.numel()) * sizeof(float));
    std::memcpy(s.hr_host, hr.data<float>(), size_t(hr.numel()) * sizeof(float));
    s.lr = Tensor::empty(lr.shape(), DType::F32, device_);
    s.hr = Tensor::empty(hr.shape(), DType::F32, device_);
    s.lr_ticket = gpu::copy_async(s.lr.raw_data(), s.lr_host, size_t(lr.numel()) * sizeof(float), device_.index);
    s.hr_ticket = gpu::copy_async(s.hr.raw_data(), s.hr_host, size_t(hr.numel()) * sizeof(float), device_.index);
    next_ = iter + 1;
}

}  // namespace sr
