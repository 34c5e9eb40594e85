// Row gather with a fixed index, as torch.index_select(x, 0, index) or x[index]:
//   x [source_rows, C], index of n rows -> y [n, C],  y[i, :] = x[index[i], :]
// dL/dx[r, :] = sum of g[i, :] over the i with index[i] == r (a scatter-add), summed in the order of
// i so that it is deterministic on both devices. Swin-style attention gathers its relative-position
// bias from a learned table this way: table [(2w - 1)^2, heads], index [w^2 * w^2].
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace sr {

// An index list checked against the rows it selects from, with the inverse the backward pass
// walks (the positions i grouped by the row they read) and copies on each GPU used, made once.
class RowIndex {
public:
    RowIndex(std::vector<int64_t> index, int64_t source_rows);
    const std::vector<int64_t>& index() const { return index_; }
    int64_t source_rows() const { return source_rows_; }
    int64_t size() const { return static_cast<int64_t>(index_.size()); }
    // Row r is read by positions order()[starts()[r] .. starts()[r + 1]), in increasing order.
    const std::vector<int64_t>& order() const { return order_; }
    const std::vector<int64_t>& starts() const { return starts_; }

    // Device copies of index(), order() and starts() (kept until this object goes).
    const int64_t* index_on(int device) const { return on_device(device).index; }
    const int64_t* order_on(int device) const { return on_device(device).order; }
    const int64_t* starts_on(int device) const { return on_device(device).starts; }

private:
    struct DeviceCopy {
        std::shared_ptr<void> memory;
        const int64_t *index = nullptr, *order = nullptr, *starts = nullptr;
    };
    const DeviceCopy& on_device(int device) const;
    std::vector<int64_t> index_, order_, starts_;
    int64_t source_rows_;
    mutable std::map<int, DeviceCopy> copies_;
};

Tensor index_select(const Tensor& x, std::shared_ptr<const RowIndex> index);

}  // namespace sr
