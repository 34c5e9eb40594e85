// core/gpu.h for CUDA builds: device queries, memory through the caching allocator, copies, and
// the fill kernels behind the tensor factories (the same element formulas as the CPU loops in
// core/factory.cpp, from core/rng.h).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/gpu.h"
#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/launch.cuh"

namespace sr::cuda {

bool sync_debug() {
    static const bool on = [] {
        const char* v = std::getenv("SR_SYNC_DEBUG");
        return v != nullptr && std::string(v) == "1";
    }();
    return on;
}

void check_launch(const char* op) {
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) fail("CUDA error '", cudaGetErrorString(e), "' launching the kernel of ", op);
    if (sync_debug()) {
        const cudaError_t s = cudaDeviceSynchronize();
        if (s != cudaSuccess) fail("CUDA error '", cudaGetErrorString(s), "' in the kernel of ", op, " (SR_SYNC_DEBUG)");
    }
}

namespace {

__global__ void fill_kernel(float* data, int64_t n, float value) {
    for (int64_t i = global_index(); i < n; i += grid_stride()) data[i] = value;
}
__global__ void arange_kernel(float* data, int64_t n, double start, double step) {
    for (int64_t i = global_index(); i < n; i += grid_stride()) data[i] = static_cast<float>(start + step * i);
}
__global__ void uniform_kernel(float* data, int64_t n, RandomStream s, float lo, float hi) {
    for (int64_t i = global_index(); i < n; i += grid_stride()) data[i] = uniform_at<float>(s, i, lo, hi);
}
__global__ void normal_kernel(float* data, int64_t n, RandomStream s, float mean, float stddev) {
    for (int64_t i = global_index(); i < n; i += grid_stride()) data[i] = normal_at<float>(s, i, mean, stddev);
}

}  // namespace

}  // namespace sr::cuda

namespace sr::gpu {

using cuda::DeviceGuard;

bool available(std::string* why) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        cudaGetLastError();
        if (why) *why = std::string("no usable CUDA device: ") + cudaGetErrorString(e);
        return false;
    }
    if (count == 0) {
        if (why) *why = "no CUDA device found";
        return false;
    }
    return true;
}

int device_count() {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return count;
}

std::string describe(int device) {
    cudaDeviceProp p{};
    SR_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
    int runtime = 0, driver = 0, blas_major = 0, blas_minor = 0;
    SR_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    SR_CUDA_CHECK(cudaDriverGetVersion(&driver));
    SR_CUDA_CHECK(cublasGetProperty(MAJOR_VERSION, &blas_major));
    SR_CUDA_CHECK(cublasGetProperty(MINOR_VERSION, &blas_minor));
    const size_t dnn = cudnnGetVersion();
    char line[512];
    std::snprintf(line, sizeof line, "%s, %.1f GiB, sm_%d%d, %d SMs; CUDA runtime %d.%d, driver %d.%d, cuBLAS %d.%d, cuDNN %zu.%zu.%zu",
                  p.name, p.totalGlobalMem / 1073741824.0, p.major, p.minor, p.multiProcessorCount, runtime / 1000,
                  (runtime % 1000) / 10, driver / 1000, (driver % 1000) / 10, blas_major, blas_minor, dnn / 10000,
                  (dnn % 10000) / 100, dnn % 100);
    return line;
}

void* allocate(size_t nbytes, int device) {
    static std::string why;
    static const bool usable = available(&why);
    static const int count = usable ? device_count() : 0;
    SR_CHECK(usable, "cuda: cannot create a CUDA tensor: ", why);
    SR_CHECK(device >= 0 && device < count, "cuda: device ", device, " does not exist (", count, " visible)");
    return cuda::device_allocate(nbytes, device);
}
void release(void* ptr, int device) { cuda::device_release(ptr, device); }

void copy_host_to_device(void* dst, const void* src, size_t nbytes, int device) {
    DeviceGuard guard(device);
    SR_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice));
}
void copy_device_to_host(void* dst, const void* src, size_t nbytes, int device) {
    DeviceGuard guard(device);
    SR_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost));
}
void copy_device_to_device(void* dst, const void* src, size_t nbytes, int device) {
    DeviceGuard guard(device);
    SR_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDefault));  // also between two GPUs
}

void fill(float* data, int64_t n, float value, int device) {
    DeviceGuard guard(device);
    cuda::fill_kernel<<<cuda::blocks_for(n), cuda::kThreads>>>(data, n, value);
    cuda::check_launch("fill");
}
void fill_arange(float* data, int64_t n, double start, double step, int device) {
    DeviceGuard guard(device);
    cuda::arange_kernel<<<cuda::blocks_for(n), cuda::kThreads>>>(data, n, start, step);
    cuda::check_launch("arange");
}
void fill_uniform(float* data, int64_t n, RandomStream s, float lo, float hi, int device) {
    DeviceGuard guard(device);
    cuda::uniform_kernel<<<cuda::blocks_for(n), cuda::kThreads>>>(data, n, s, lo, hi);
    cuda::check_launch("uniform");
}
void fill_normal(float* data, int64_t n, RandomStream s, float mean, float stddev, int device) {
    DeviceGuard guard(device);
    cuda::normal_kernel<<<cuda::blocks_for(n), cuda::kThreads>>>(data, n, s, mean, stddev);
    cuda::check_launch("normal");
}

}  // namespace sr::gpu
