// One cuDNN and one cuBLAS handle per GPU, created on first use (on the default stream) and kept
// for the life of the process. Call them with that GPU current (inside a DeviceGuard).
#pragma once

#include <cublas_v2.h>
#include <cudnn.h>

namespace sr::cuda {

cudnnHandle_t cudnn_handle(int device);
cublasHandle_t cublas_handle(int device);

}  // namespace sr::cuda
