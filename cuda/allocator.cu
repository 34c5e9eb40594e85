#include "cuda/allocator.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/check.h"

namespace sr::cuda {

namespace {

constexpr size_t kRound = 512;  // every block is a multiple of this: also its alignment
constexpr int kMaxDevices = 64;

struct DevicePool {
    std::map<size_t, std::vector<void*>> cached;     // free blocks by size
    std::unordered_map<void*, size_t> live;          // block -> size, for tensors in use
    MemoryStats stats;
};

std::mutex pool_mutex;
DevicePool pools[kMaxDevices];

void free_cached(int device, DevicePool& pool) {
    DeviceGuard guard(device);
    for (auto& [size, blocks] : pool.cached) {
        for (void* p : blocks) SR_CUDA_CHECK(cudaFree(p));
        pool.stats.reserved -= size * blocks.size();
    }
    pool.cached.clear();
}

DevicePool& pool_for(int device) {
    SR_CHECK(device >= 0 && device < kMaxDevices, "cuda: invalid device index ", device);
    return pools[device];
}

}  // namespace

void* device_allocate(size_t nbytes, int device) {
    if (nbytes == 0) return nullptr;
    const size_t size = (nbytes + kRound - 1) / kRound * kRound;
    std::lock_guard<std::mutex> lock(pool_mutex);
    DevicePool& pool = pool_for(device);
    void* p = nullptr;
    auto it = pool.cached.find(size);
    if (it != pool.cached.end() && !it->second.empty()) {
        p = it->second.back();
        it->second.pop_back();
        ++pool.stats.cache_hits;
    } else {
        DeviceGuard guard(device);
        cudaError_t e = cudaMalloc(&p, size);
        if (e == cudaErrorMemoryAllocation) {  // give the cache back and try once more
            cudaGetLastError();
            free_cached(device, pool);
            e = cudaMalloc(&p, size);
        }
        if (e == cudaErrorMemoryAllocation) {
            cudaGetLastError();
            fail("cuda: out of memory allocating ", size, " bytes on device ", device, " (", pool.stats.allocated,
                 " bytes in use, ", pool.stats.reserved, " reserved by srforge)");
        }
        if (e != cudaSuccess)
            fail("cuda: cudaMalloc of ", size, " bytes on device ", device, " failed: ", cudaGetErrorString(e),
                 " (an earlier kernel may have faulted; run with SR_SYNC_DEBUG=1 to find it)");
        pool.stats.reserved += size;
        ++pool.stats.device_mallocs;
    }
    pool.live[p] = size;
    pool.stats.allocated += size;
    pool.stats.peak_allocated = std::max(pool.stats.peak_allocated, pool.stats.allocated);
    return p;
}

void device_release(void* ptr, int device) {
    if (ptr == nullptr) return;
    std::lock_guard<std::mutex> lock(pool_mutex);
    DevicePool& pool = pool_for(device);
    auto it = pool.live.find(ptr);
    if (it == pool.live.end()) return;  // not ours: never happens through Storage
    pool.stats.allocated -= it->second;
    pool.cached[it->second].push_back(ptr);
    pool.live.erase(it);
}

void empty_cache(int device) {
    std::lock_guard<std::mutex> lock(pool_mutex);
    free_cached(device, pool_for(device));
}

MemoryStats memory_stats(int device) {
    std::lock_guard<std::mutex> lock(pool_mutex);
    return pool_for(device).stats;
}

void reset_peak_memory(int device) {
    std::lock_guard<std::mutex> lock(pool_mutex);
    DevicePool& pool = pool_for(device);
    pool.stats.peak_allocated = pool.stats.allocated;
}

}  // namespace sr::cuda
