// Every CUDA, cuBLAS and cuDNN call goes through one of these checks: a failure becomes an
// sr::Error naming the call, the error and the source line. After a kernel launch,
// check_launch(op) also catches launch errors; with SR_SYNC_DEBUG=1 in the environment it
// synchronises and checks again, so an asynchronous fault is reported at the op that caused it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "core/error.h"

namespace sr::cuda {

inline void check(cudaError_t e, const char* call, const char* file, int line) {
    if (e != cudaSuccess) fail("CUDA error '", cudaGetErrorString(e), "' in ", call, " (", file, ":", line, ")");
}
inline void check(cublasStatus_t s, const char* call, const char* file, int line) {
    if (s != CUBLAS_STATUS_SUCCESS) fail("cuBLAS error '", cublasGetStatusString(s), "' in ", call, " (", file, ":", line, ")");
}
inline void check(cudnnStatus_t s, const char* call, const char* file, int line) {
    if (s != CUDNN_STATUS_SUCCESS) fail("cuDNN error '", cudnnGetErrorString(s), "' in ", call, " (", file, ":", line, ")");
}

// Makes `device` current for the scope and restores the previous device after it. Every entry
// point of cuda/ that touches a device takes one, so work always runs on the tensor's own GPU.
class DeviceGuard {
public:
    explicit DeviceGuard(int device) {
        check(cudaGetDevice(&previous_), "cudaGetDevice", __FILE__, __LINE__);
        if (device != previous_) check(cudaSetDevice(device), "cudaSetDevice", __FILE__, __LINE__);
    }
    ~DeviceGuard() { cudaSetDevice(previous_); }
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;

private:
    int previous_ = 0;
};

// Whether SR_SYNC_DEBUG=1 is set (read once).
bool sync_debug();

// Call right after a kernel launch; `op` names the op in the error.
void check_launch(const char* op);

}  // namespace sr::cuda

#define SR_CUDA_CHECK(call) ::sr::cuda::check((call), #call, __FILE__, __LINE__)
