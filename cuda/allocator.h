// The caching device allocator. cudaMalloc and cudaFree are slow and cudaFree synchronises the
// device, so freed blocks are kept, keyed by their (rounded) size, and handed out again to the
// next request of that size; a training step allocates the same sizes every iteration, so after
// the first step almost every request is served from the cache. When cudaMalloc runs out of
// memory the cache is emptied and the request retried once.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sr::cuda {

struct MemoryStats {
    size_t allocated = 0;       // bytes in live tensors
    size_t reserved = 0;        // bytes held from cudaMalloc (allocated + cached)
    size_t peak_allocated = 0;  // high-water mark of `allocated`
    int64_t device_mallocs = 0; // cudaMalloc calls made
    int64_t cache_hits = 0;     // requests served from the cache
};

void* device_allocate(size_t nbytes, int device);
void device_release(void* ptr, int device);
// Returns every cached block to CUDA.
void empty_cache(int device);
MemoryStats memory_stats(int device);
void reset_peak_memory(int device);

}  // namespace sr::cuda
