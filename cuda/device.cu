// core/gpu.h for CUDA builds: device queries, memory through the caching allocator, copies, and
// the fill kernels behind the tensor factories (the same element formulas as the CPU loops in
// core/factory.cpp, from core/rng.h).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/gpu.h"
#include <map>
#include <mutex>

#include "cuda/allocator.h"
#include "cuda/blas.h"
#include "cuda/check.h"
#include "cuda/conv.h"
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

// ---- staging batches ------------------------------------------------------------------------------

void* allocate_pinned(size_t nbytes) {
    void* p = nullptr;
    SR_CUDA_CHECK(cudaMallocHost(&p, nbytes));
    return p;
}
void release_pinned(void* ptr) {
    if (ptr) cudaFreeHost(ptr);
}

namespace {

// Per device: a non-blocking copy stream, and a ring of events that tickets index.
struct CopyQueue {
    cudaStream_t stream = nullptr;
    static constexpr int kEvents = 32;
    cudaEvent_t events[kEvents] = {};
    cudaEvent_t compute_done = nullptr;
    int64_t next_ticket = 0;
};

std::mutex queues_mutex;

CopyQueue& queue(int device) {
    static std::map<int, CopyQueue> queues;
    std::lock_guard<std::mutex> lock(queues_mutex);
    CopyQueue& q = queues[device];
    if (!q.stream) {
        SR_CUDA_CHECK(cudaStreamCreateWithFlags(&q.stream, cudaStreamNonBlocking));
        for (cudaEvent_t& e : q.events) SR_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
        SR_CUDA_CHECK(cudaEventCreateWithFlags(&q.compute_done, cudaEventDisableTiming));
    }
    return q;
}

cudaEvent_t event_of(CopyQueue& q, int64_t ticket) {
    SR_CHECK(ticket >= 0 && ticket < q.next_ticket && ticket >= q.next_ticket - CopyQueue::kEvents,
             "copy ticket ", ticket, " is unknown or too old");
    return q.events[ticket % CopyQueue::kEvents];
}

}  // namespace

int64_t copy_async(void* dst, const void* pinned_src, size_t nbytes, int device) {
    DeviceGuard guard(device);
    CopyQueue& q = queue(device);
    // After everything given to the compute stream so far: the destination may be memory that
    // earlier kernels were still using when the allocator handed it out again.
    SR_CUDA_CHECK(cudaEventRecord(q.compute_done, 0));
    SR_CUDA_CHECK(cudaStreamWaitEvent(q.stream, q.compute_done, 0));
    SR_CUDA_CHECK(cudaMemcpyAsync(dst, pinned_src, nbytes, cudaMemcpyHostToDevice, q.stream));
    const int64_t ticket = q.next_ticket++;
    SR_CUDA_CHECK(cudaEventRecord(q.events[ticket % CopyQueue::kEvents], q.stream));
    return ticket;
}

void wait_on_device(int64_t ticket, int device) {
    DeviceGuard guard(device);
    CopyQueue& q = queue(device);
    SR_CUDA_CHECK(cudaStreamWaitEvent(0, event_of(q, ticket), 0));
}

void wait_on_host(int64_t ticket, int device) {
    DeviceGuard guard(device);
    CopyQueue& q = queue(device);
    SR_CUDA_CHECK(cudaEventSynchronize(event_of(q, ticket)));
}

void set_precision(const std::string& precision) {
    SR_CHECK(precision == "fp32" || precision == "tf32" || precision == "bf16", "precision must be fp32, tf32 or bf16, got '",
             precision, "'");
    cuda::set_conv_math(precision == "fp32" ? cuda::ConvMath::FP32
                        : precision == "tf32" ? cuda::ConvMath::TF32
                                              : cuda::ConvMath::BF16);
    cuda::set_blas_tf32(precision != "fp32");  // products have no bf16 path: they take TF32 then
}

std::string memory_summary(int device) {
    const cuda::MemoryStats m = cuda::memory_stats(device);
    char line[256];
    std::snprintf(line, sizeof line, "GPU memory: %.0f MiB allocated, %.0f MiB peak, %.0f MiB reserved, %lld cudaMalloc calls",
                  double(m.allocated) / 1048576.0, double(m.peak_allocated) / 1048576.0, double(m.reserved) / 1048576.0,
                  (long long)m.device_mallocs);
    return line;
}

void synchronize(int device) {
    DeviceGuard guard(device);
    SR_CUDA_CHECK(cudaDeviceSynchronize());
}
size_t peak_memory(int device) { return cuda::memory_stats(device).peak_allocated; }
void reset_peak_memory(int device) { cuda::reset_peak_memory(device); }

}  // namespace sr::gpu
