// Convolution through cuDNN (cuda/conv.h): descriptors for one call's shapes, the algorithm for
// those shapes found once and cached, workspace from the caching allocator.
#include <array>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <string>

#include <cuda_bf16.h>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/conv.h"
#include "cuda/handles.h"
#include "cuda/launch.cuh"

namespace sr::cuda {

namespace {

ConvMath math = ConvMath::FP32;

bool deterministic_only() {
    static const bool on = [] {
        const char* v = std::getenv("SR_CUDNN_DETERMINISTIC");
        return v != nullptr && std::string(v) == "1";
    }();
    return on;
}

int as_int(int64_t v, const char* what) {
    SR_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(), "conv2d (cuDNN): ", what, " = ", v, " does not fit cuDNN's int");
    return static_cast<int>(v);
}

// The four descriptors of one convolution, destroyed with the object.
struct Descriptors {
    cudnnTensorDescriptor_t x = nullptr, y = nullptr;
    cudnnFilterDescriptor_t w = nullptr;
    cudnnConvolutionDescriptor_t conv = nullptr;

    Descriptors(const ConvGeometry& g, cudnnDataType_t type) {
        SR_CUDA_CHECK(cudnnCreateTensorDescriptor(&x));
        SR_CUDA_CHECK(cudnnCreateTensorDescriptor(&y));
        SR_CUDA_CHECK(cudnnCreateFilterDescriptor(&w));
        SR_CUDA_CHECK(cudnnCreateConvolutionDescriptor(&conv));
        SR_CUDA_CHECK(cudnnSetTensor4dDescriptorEx(x, type, as_int(g.N, "N"), as_int(g.C, "C"), as_int(g.H, "H"),
                                                   as_int(g.W, "W"), as_int(g.x_batch_stride, "input batch stride"),
                                                   as_int(g.H * g.W, "H W"), as_int(g.W, "W"), 1));
        SR_CUDA_CHECK(cudnnSetTensor4dDescriptorEx(y, type, as_int(g.N, "N"), as_int(g.OC, "OC"),
                                                   as_int(g.OH, "OH"), as_int(g.OW, "OW"),
                                                   as_int(g.y_batch_stride, "output batch stride"), as_int(g.OH * g.OW, "OH OW"),
                                                   as_int(g.OW, "OW"), 1));
        SR_CUDA_CHECK(cudnnSetFilter4dDescriptor(w, type, CUDNN_TENSOR_NCHW, as_int(g.OC, "OC"),
                                                 as_int(g.C / g.groups, "C / groups"), as_int(g.KH, "KH"), as_int(g.KW, "KW")));
        SR_CUDA_CHECK(cudnnSetConvolution2dDescriptor(conv, as_int(g.pad_h, "pad"), as_int(g.pad_w, "pad"),
                                                      as_int(g.stride_h, "stride"), as_int(g.stride_w, "stride"),
                                                      as_int(g.dil_h, "dilation"), as_int(g.dil_w, "dilation"),
                                                      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
        SR_CUDA_CHECK(cudnnSetConvolutionGroupCount(conv, as_int(g.groups, "groups")));
        // Exact FP32 unless asked otherwise: cuDNN's default would use TF32 on Ampere and later.
        // (The compute type above is float in every case: bfloat16 inputs accumulate in float.)
        SR_CUDA_CHECK(cudnnSetConvolutionMathType(conv, math == ConvMath::FP32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
    }
    ~Descriptors() {
        cudnnDestroyTensorDescriptor(x);
        cudnnDestroyTensorDescriptor(y);
        cudnnDestroyFilterDescriptor(w);
        cudnnDestroyConvolutionDescriptor(conv);
    }
    Descriptors(const Descriptors&) = delete;
    Descriptors& operator=(const Descriptors&) = delete;
};

// A device buffer from the caching allocator for the length of a scope.
struct Scratch {
    void* ptr = nullptr;
    size_t bytes = 0;
    int device = 0;
    Scratch(size_t n, int dev) : bytes(n), device(dev) {
        if (n) ptr = device_allocate(n, dev);
    }
    ~Scratch() {
        if (ptr) device_release(ptr, device);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
};

enum class Pass { Forward, BackwardData, BackwardFilter };

struct Choice {
    int algo = 0;
    size_t workspace = 0;
};

using Key = std::array<int64_t, 21>;

Key key_of(const ConvGeometry& g, Pass pass, int device) {
    return {g.N, g.C, g.H, g.W, g.OC, g.KH, g.KW, g.OH, g.OW, g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dil_h, g.dil_w,
            g.groups, g.x_batch_stride, g.y_batch_stride, int64_t(pass), int64_t(device),
            int64_t(math) * 2 + int64_t(deterministic_only())};
}

std::mutex cache_mutex;
std::map<Key, Choice> chosen;

// The workspace cuDNN may use while searching and running: a quarter of the free memory, at most 1 GiB.
size_t workspace_budget() {
    size_t free_bytes = 0, total = 0;
    SR_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
    return std::min<size_t>(free_bytes / 4, size_t(1) << 30);
}

// The fastest successful candidate (deterministic ones only, when asked) among cuDNN's timings.
template <class Perf>
Choice pick(const Perf* perf, int count, size_t budget, const char* pass) {
    for (int i = 0; i < count; ++i) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > budget) continue;
        if (deterministic_only() && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
        return {static_cast<int>(perf[i].algo), perf[i].memory};
    }
    fail("conv2d: cuDNN found no usable ", pass, " algorithm", deterministic_only() ? " (SR_CUDNN_DETERMINISTIC=1)" : "");
}

Choice choose(const ConvGeometry& g, Pass pass, const Descriptors& d, const void* x, const void* w, const void* y,
              int device) {
    const size_t element = math == ConvMath::BF16 ? 2 : 4;
    const Key key = key_of(g, pass, device);
    {
        std::lock_guard<std::mutex> lock(cache_mutex);
        const auto it = chosen.find(key);
        if (it != chosen.end()) return it->second;
    }
    cudnnHandle_t h = cudnn_handle(device);
    const size_t budget = workspace_budget();
    Scratch workspace(budget, device);
    constexpr int kCandidates = 16;
    int returned = 0;
    Choice c;
    // The search runs every candidate, so it writes into scratch outputs, never into the caller's.
    if (pass == Pass::Forward) {
        Scratch out(size_t(g.N) * size_t(g.y_batch_stride) * element, device);
        cudnnConvolutionFwdAlgoPerf_t perf[kCandidates];
        SR_CUDA_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, d.x, x, d.w, w, d.conv, d.y, out.ptr, kCandidates, &returned,
                                                             perf, workspace.ptr, budget));
        c = pick(perf, returned, budget, "forward");
    } else if (pass == Pass::BackwardData) {
        Scratch out(size_t(g.N) * size_t(g.x_batch_stride) * element, device);
        cudnnConvolutionBwdDataAlgoPerf_t perf[kCandidates];
        SR_CUDA_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.w, w, d.y, y, d.conv, d.x, out.ptr, kCandidates,
                                                                  &returned, perf, workspace.ptr, budget));
        c = pick(perf, returned, budget, "backward-data");
    } else {
        Scratch out(size_t(g.OC) * size_t(g.C / g.groups) * size_t(g.KH * g.KW) * element, device);
        cudnnConvolutionBwdFilterAlgoPerf_t perf[kCandidates];
        SR_CUDA_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d.x, x, d.y, y, d.conv, d.w, out.ptr, kCandidates,
                                                                    &returned, perf, workspace.ptr, budget));
        c = pick(perf, returned, budget, "backward-filter");
    }
    std::lock_guard<std::mutex> lock(cache_mutex);
    chosen[key] = c;
    return c;
}

// y[n, oc, p] = act(y[n, oc, p] + bias[oc]) over samples `batch_stride` apart.
__global__ void bias_activation_kernel(float* y, const float* bias, int64_t n, int64_t channels, int64_t plane,
                                       int64_t batch_stride, int activation, float slope) {
    const int64_t per_sample = channels * plane;
    for (int64_t i = global_index(); i < n; i += grid_stride()) {
        const int64_t s = i / per_sample, r = i % per_sample;
        float v = y[s * batch_stride + r];
        if (bias) v += bias[r / plane];
        if (activation == 1) v = v > 0 ? v : 0.0f;
        if (activation == 2) v = v > 0 ? v : slope * v;
        y[s * batch_stride + r] = v;
    }
}

constexpr int kBiasThreads = 256;

// gb[oc] (+)= sum over samples and positions of gy[n, oc, p]: one block per channel, fixed order.
__global__ void bias_grad_kernel(const float* gy, float* gb, int64_t samples, int64_t channels, int64_t plane,
                                 int64_t batch_stride, bool accumulate) {
    __shared__ double partial[kBiasThreads];
    const int64_t oc = blockIdx.x, count = samples * plane;
    double acc = 0;
    for (int64_t i = threadIdx.x; i < count; i += kBiasThreads) {
        const int64_t s = i / plane, p = i % plane;
        acc += gy[s * batch_stride + oc * plane + p];
    }
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int half = kBiasThreads / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) gb[oc] = static_cast<float>(partial[0]) + (accumulate ? gb[oc] : 0.0f);
    (void)channels;
}

}  // namespace

void set_conv_math(ConvMath m) { math = m; }

namespace {

// ---- bfloat16 ---------------------------------------------------------------------------------------
// With ConvMath::BF16 the operands are converted into dense bfloat16 copies, cuDNN convolves them
// accumulating in float, and the bfloat16 result is converted back into the float destination.

__global__ void to_bf16_kernel(const float* src, int64_t src_batch_stride, int64_t per_sample, int64_t n,
                               __nv_bfloat16* dst) {
    for (int64_t i = global_index(); i < n; i += grid_stride())
        dst[i] = __float2bfloat16(src[i / per_sample * src_batch_stride + i % per_sample]);
}

__global__ void from_bf16_kernel(const __nv_bfloat16* src, int64_t per_sample, int64_t n, float* dst,
                                 int64_t dst_batch_stride, bool accumulate) {
    for (int64_t i = global_index(); i < n; i += grid_stride()) {
        float& d = dst[i / per_sample * dst_batch_stride + i % per_sample];
        const float v = __bfloat162float(src[i]);
        d = accumulate ? d + v : v;
    }
}

// A dense bfloat16 copy of `samples` blocks of `per_sample` floats that start `batch_stride` apart.
struct Bf16Copy {
    Scratch buffer;
    Bf16Copy(const float* src, int64_t samples, int64_t per_sample, int64_t batch_stride, int device)
        : buffer(size_t(samples * per_sample) * sizeof(__nv_bfloat16), device) {
        const int64_t n = samples * per_sample;
        if (src && n) {
            to_bf16_kernel<<<blocks_for(n), kThreads>>>(src, batch_stride, per_sample, n, ptr());
            check_launch("conv2d (bf16 conversion)");
        }
    }
    __nv_bfloat16* ptr() { return static_cast<__nv_bfloat16*>(buffer.ptr); }
};

void store_from_bf16(Bf16Copy& result, int64_t samples, int64_t per_sample, float* dst, int64_t batch_stride, bool accumulate) {
    const int64_t n = samples * per_sample;
    if (!n) return;
    from_bf16_kernel<<<blocks_for(n), kThreads>>>(result.ptr(), per_sample, n, dst, batch_stride, accumulate);
    check_launch("conv2d (bf16 conversion)");
}

ConvGeometry dense(ConvGeometry g) {
    g.x_batch_stride = g.C * g.H * g.W;
    g.y_batch_stride = g.OC * g.OH * g.OW;
    return g;
}

int64_t weight_count(const ConvGeometry& g) { return g.OC * (g.C / g.groups) * g.KH * g.KW; }

// The three cuDNN calls on operands of the current math's type; `beta` 1 adds to the output.
void forward_call(const ConvGeometry& g, cudnnDataType_t type, const void* x, const void* w, void* y, float beta, int device) {
    const Descriptors d(g, type);
    const Choice c = choose(g, Pass::Forward, d, x, w, nullptr, device);
    Scratch workspace(c.workspace, device);
    const float one = 1;
    SR_CUDA_CHECK(cudnnConvolutionForward(cudnn_handle(device), &one, d.x, x, d.w, w, d.conv,
                                          static_cast<cudnnConvolutionFwdAlgo_t>(c.algo), workspace.ptr, c.workspace, &beta,
                                          d.y, y));
}

void backward_data_call(const ConvGeometry& g, cudnnDataType_t type, const void* gy, const void* w, void* gx, float beta,
                        int device) {
    const Descriptors d(g, type);
    const Choice c = choose(g, Pass::BackwardData, d, nullptr, w, gy, device);
    Scratch workspace(c.workspace, device);
    const float one = 1;
    SR_CUDA_CHECK(cudnnConvolutionBackwardData(cudnn_handle(device), &one, d.w, w, d.y, gy, d.conv,
                                               static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algo), workspace.ptr,
                                               c.workspace, &beta, d.x, gx));
}

void backward_filter_call(const ConvGeometry& g, cudnnDataType_t type, const void* x, const void* gy, void* gw, float beta,
                          int device) {
    const Descriptors d(g, type);
    const Choice c = choose(g, Pass::BackwardFilter, d, x, nullptr, gy, device);
    Scratch workspace(c.workspace, device);
    const float one = 1;
    SR_CUDA_CHECK(cudnnConvolutionBackwardFilter(cudnn_handle(device), &one, d.x, x, d.y, gy, d.conv,
                                                 static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algo), workspace.ptr,
                                                 c.workspace, &beta, d.w, gw));
}

}  // namespace

void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y, int activation,
                    float slope, bool accumulate, int device) {
    DeviceGuard guard(device);
    if (math == ConvMath::BF16) {
        const ConvGeometry dg = dense(g);
        Bf16Copy xb(x, g.N, g.C * g.H * g.W, g.x_batch_stride, device), wb(w, 1, weight_count(g), 0, device);
        Bf16Copy yb(nullptr, g.N, dg.y_batch_stride, 0, device);
        forward_call(dg, CUDNN_DATA_BFLOAT16, xb.ptr(), wb.ptr(), yb.ptr(), 0.0f, device);
        store_from_bf16(yb, g.N, dg.y_batch_stride, y, g.y_batch_stride, accumulate);
    } else {
        forward_call(g, CUDNN_DATA_FLOAT, x, w, y, accumulate ? 1.0f : 0.0f, device);
    }
    if (accumulate || (!bias && activation == 0)) return;
    const int64_t n = g.N * g.OC * g.OH * g.OW;
    bias_activation_kernel<<<blocks_for(n), kThreads>>>(y, bias, n, g.OC, g.OH * g.OW, g.y_batch_stride, activation, slope);
    check_launch("conv2d bias/activation");
}

void conv2d_backward_data(const ConvGeometry& g, const float* gy, const float* w, float* gx, bool accumulate, int device) {
    DeviceGuard guard(device);
    if (math == ConvMath::BF16) {
        const ConvGeometry dg = dense(g);
        Bf16Copy gyb(gy, g.N, dg.y_batch_stride, g.y_batch_stride, device), wb(w, 1, weight_count(g), 0, device);
        Bf16Copy gxb(nullptr, g.N, dg.x_batch_stride, 0, device);
        backward_data_call(dg, CUDNN_DATA_BFLOAT16, gyb.ptr(), wb.ptr(), gxb.ptr(), 0.0f, device);
        store_from_bf16(gxb, g.N, dg.x_batch_stride, gx, g.x_batch_stride, accumulate);
        return;
    }
    backward_data_call(g, CUDNN_DATA_FLOAT, gy, w, gx, accumulate ? 1.0f : 0.0f, device);
}

void conv2d_backward_filter(const ConvGeometry& g, const float* x, const float* gy, float* gw, float* gb, bool accumulate,
                            int device) {
    DeviceGuard guard(device);
    if (gw && math == ConvMath::BF16) {
        const ConvGeometry dg = dense(g);
        Bf16Copy xb(x, g.N, dg.x_batch_stride, g.x_batch_stride, device), gyb(gy, g.N, dg.y_batch_stride, g.y_batch_stride, device);
        Bf16Copy gwb(nullptr, 1, weight_count(g), 0, device);
        backward_filter_call(dg, CUDNN_DATA_BFLOAT16, xb.ptr(), gyb.ptr(), gwb.ptr(), 0.0f, device);
        store_from_bf16(gwb, 1, weight_count(g), gw, 0, accumulate);
    } else if (gw) {
        backward_filter_call(g, CUDNN_DATA_FLOAT, x, gy, gw, accumulate ? 1.0f : 0.0f, device);
    }
    if (gb) {
        SR_CHECK(g.OC <= std::numeric_limits<int>::max(), "conv2d: too many output channels for one launch");
        bias_grad_kernel<<<static_cast<unsigned>(g.OC), kBiasThreads>>>(gy, gb, g.N, g.OC, g.OH * g.OW, g.y_batch_stride,
                                                                        accumulate);
        check_launch("conv2d bias gradient");
    }
}

}  // namespace sr::cuda
