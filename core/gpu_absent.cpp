// The GPU interface of core/gpu.h in a build without CUDA (SR_CUDA=OFF, or no CUDA toolkit found).
// available() says why; everything else is unreachable in practice, because no CUDA tensor can be
// created, and throws the same clear error if called anyway.
#include "core/gpu.h"

#include "core/error.h"

namespace sr::gpu {

namespace {
const char* const kReason = "this srforge build has no CUDA support (SR_CUDA=OFF or no CUDA toolkit found)";
[[noreturn]] void no_cuda() { fail("cuda: ", kReason); }
}  // namespace

bool available(std::string* why) {
    if (why) *why = kReason;
    return false;
}
int device_count() { return 0; }
std::string describe(int) { no_cuda(); }
void* allocate(size_t, int) { no_cuda(); }
void release(void*, int) {}
void copy_host_to_device(void*, const void*, size_t, int) { no_cuda(); }
void copy_device_to_host(void*, const void*, size_t, int) { no_cuda(); }
void copy_device_to_device(void*, const void*, size_t, int) { no_cuda(); }
void fill(float*, int64_t, float, int) { no_cuda(); }
std::string nccl_unique_id() { no_cuda(); }
void nccl_init(const std::string&, int, int, int) { no_cuda(); }
void nccl_all_reduce_sum(float*, int64_t, int) { no_cuda(); }
void fill_arange(float*, int64_t, double, double, int) { no_cuda(); }
void fill_uniform(float*, int64_t, RandomStream, float, float, int) { no_cuda(); }
void fill_normal(float*, int64_t, RandomStream, float, float, int) { no_cuda(); }
void* allocate_pinned(size_t) { no_cuda(); }
void release_pinned(void*) {}
int64_t copy_async(void*, const void*, size_t, int) { no_cuda(); }
void wait_on_device(int64_t, int) { no_cuda(); }
void wait_on_host(int64_t, int) { no_cuda(); }
void set_precision(const std::string&) { no_cuda(); }
std::string memory_summary(int) { no_cuda(); }
void synchronize(int) { no_cuda(); }
size_t peak_memory(int) { no_cuda(); }
void reset_peak_memory(int) { no_cuda(); }

}  // namespace sr::gpu
