// Training batches on the training device. On a GPU the batch of the next iteration is copied
// (from page-locked memory, on the copy stream) while the current step computes; on the CPU the
// batch is used where the loader made it.
#pragma once

#include <utility>

#include "core/device.h"
#include "core/tensor.h"
#include "train/data.h"

namespace sr {

class DeviceBatches {
public:
    DeviceBatches(TrainData& data, Device device) : data_(data), device_(device) {}
    ~DeviceBatches();
    DeviceBatches(const DeviceBatches&) = delete;
    DeviceBatches& operator=(const DeviceBatches&) = delete;

    // The batch of `iter` (asked for in order), and when `more`, the next one set going.
    std::pair<Tensor, Tensor> take(int64_t iter, bool more);

private:
    struct Slot {
        float* lr_host = nullptr;
        float* hr_host = nullptr;
        Tensor lr, hr;
        int64_t lr_ticket = -1, hr_ticket = -1;
    };

    void start(int64_t iter);

    TrainData& data_;
    Device device_;
    Slot slots_[2];
    int64_t next_ = -1;  // the iteration after the last one started
};

}  // namespace sr
