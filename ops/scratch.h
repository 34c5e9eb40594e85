// A growable buffer, kept by its owner (usually `static thread_local`, one per thread) and
// reused across calls, so that hot kernels do not allocate and fault in fresh pages every time.
#pragma once

#include <cstdint>
#include <vector>

namespace sr {

// buffer's data, grown to at least n values (the values are whatever was there before).
template <class T>
T* scratch(std::vector<T>& buffer, int64_t n) {
    if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(static_cast<size_t>(n));
    return buffer.data();
}

}  // namespace sr
