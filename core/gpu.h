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

// ---- for the training loop ------------------------------------------------------------------------

// Page-locked host memory, which the GPU can copy from while the host goes on.
void* allocate_pinned(size_t nbytes);
void release_pinned(void* ptr);

// Batches copied while the previous step computes: the copy runs on the device's copy stream
// after everything the compute stream has been given so far, and returns a ticket.
//   copy_async:      from pinned host memory into device memory
//   wait_on_device:  work given to the compute stream from now on waits for that copy (no host wait)
//   wait_on_host:    the host waits for it (before it overwrites the pinned source)
int64_t copy_async(void* dst, const void* pinned_src, size_t nbytes, int device);
void wait_on_device(int64_t ticket, int device);
void wait_on_host(int64_t ticket, int device);

// The math of convolutions and matrix products: "fp32" (exact, the default), "tf32" (TF32 tensor
// cores) or "bf16" (convolutions take bfloat16 inputs and accumulate in float).
void set_precision(const std::string& precision);

// One line: allocated, peak and reserved device memory, cache hits.
std::string memory_summary(int device);

// For benchmarks: wait until the device is idle; the high-water mark of allocated bytes since
// the last reset.
void synchronize(int device);
size_t peak_memory(int device);
void reset_peak_memory(int device);

// NCCL, for data-parallel training on GPU ranks (train/distributed.h; cuda/nccl.cpp): rank 0 makes
// the unique id and the caller shares it; then every rank joins one communicator with its GPU,
// and sums run in place on the default stream, in order with the other kernels.
constexpr size_t kNcclIdBytes = 128;
std::string nccl_unique_id();
void nccl_init(const std::string& id, int rank, int size, int device);
void nccl_all_reduce_sum(float* data, int64_t n, int device);

}  // namespace sr::gpu
