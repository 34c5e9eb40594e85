// What core/ needs from the GPU: memory, copies and the fills behind the tensor factories.
//
// cuda/device.cu implements these when srforge is built with CUDA (SR_CUDA=AUTO or ON). In a
// CPU-only build core/gpu_absent.cpp implements them instead, and each one throws a clear error;
// a CUDA tensor can then never be created, so no other code needs to know which build it is in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/rng.h"

namespace sr::gpu {

// True when a CUDA device can be used; otherwise `why` (if given) says why not.
bool available(std::string* why = nullptr);
int device_count();
// One line naming the device, its memory and the CUDA/cuBLAS/cuDNN versions.
std::string describe(int device);

void* allocate(size_t nbytes, int device);  // from the caching allocator
void release(void* ptr, int device);        // back to the caching allocator

void copy_host_to_device(void* dst, const void* src, size_t nbytes, int device);
void copy_device_to_host(void* dst, const void* src, size_t nbytes, int device);
void copy_device_to_device(void* dst, const void* src, size_t nbytes, int device);

// Contiguous F32 fills on `device`, with the same element formulas as the CPU factories.
void fill(float* data, int64_t n, float value, int device);
void fill_arange(float* data, int64_t n, double start, double step, int device);
void fill_uniform(float* data, int64_t n, RandomStream stream, float lo, float hi, int device);
void fill_normal(float* data, int64_t n, RandomStream stream, float mean, float stddev, int device);

}  // namespace sr::gpu
