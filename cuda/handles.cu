#include <map>
#include <mutex>

#include "cuda/check.h"
#include "cuda/handles.h"

namespace sr::cuda {

namespace {
std::mutex handles_mutex;
}  // namespace

cudnnHandle_t cudnn_handle(int device) {
    static std::map<int, cudnnHandle_t> handles;
    std::lock_guard<std::mutex> lock(handles_mutex);
    cudnnHandle_t& h = handles[device];
    if (!h) SR_CUDA_CHECK(cudnnCreate(&h));
    return h;
}

cublasHandle_t cublas_handle(int device) {
    static std::map<int, cublasHandle_t> handles;
    std::lock_guard<std::mutex> lock(handles_mutex);
    cublasHandle_t& h = handles[device];
    if (!h) {
        SR_CUDA_CHECK(cublasCreate(&h));
        // Exact FP32 products: no TF32 tensor cores unless asked for (cuda/blas.h).
        SR_CUDA_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    }
    return h;
}

}  // namespace sr::cuda
