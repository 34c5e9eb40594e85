// The elementwise launcher: out[i] = f(a[i], b[i], ...) for a functor f from ops/functors.h.
//
//   Tensor y = map("relu", Relu{}, x);                // a new contiguous tensor
//   Tensor z = map("add", Add{}, a, b);              // a and b broadcast against each other
//   map_into("copy_", dst_view, Identity{}, src);     // writes into an existing, strided tensor
//
// On the CPU the loop runs here (OpenMP over rows); on the GPU the same functor runs in the
// grid-stride kernel of cuda/map.cuh. Inputs may have any strides.
#pragma once

#include <array>

#include "core/tensor.h"
#include "cuda/map.h"
#include "ops/cuda_call.h"
#include "ops/strided.h"

namespace sr {

namespace detail {

// Strides of `t` when broadcast to `shape` (stride 0 along repeated dimensions).
inline Strides broadcast_strides(const Tensor& t, const Shape& shape, const char* op) {
    SR_CHECK(t.shape().size() <= shape.size(), op, ": cannot broadcast ", t.shape(), " to ", shape);
    const size_t lead = shape.size() - t.shape().size();
    Strides strides(shape.size(), 0);
    for (size_t d = lead; d < shape.size(); ++d) {
        const int64_t have = t.shape()[d - lead];
        SR_CHECK(have == shape[d] || have == 1, op, ": cannot broadcast ", t.shape(), " to ", shape);
        strides[d] = have == 1 ? 0 : t.strides()[d - lead];
    }
    return strides;
}

// The iteration geometry of one launch: every operand's strides over `shape`, with size-1
// dimensions dropped and adjacent dimensions merged wherever all operands allow it; e.g. an
// [N, C, H, W] tensor plus a [1, C, 1, 1] bias iterates as [N, C, H*W].
template <class T, size_t K>
std::array<StridedPtr<T>, K> plan(const Shape& shape, const std::array<Tensor, K>& operands, const char* op) {
    std::array<Strides, K> strides;
    for (size_t k = 0; k < K; ++k) strides[k] = broadcast_strides(operands[k], shape, op);
    Shape sizes;
    std::array<Strides, K> merged;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 1) continue;
        bool can_merge = !sizes.empty();
        for (size_t k = 0; k < K && can_merge; ++k)
            can_merge = merged[k].back() == strides[k][d] * shape[d];
        if (can_merge) {
            sizes.back() *= shape[d];
            for (size_t k = 0; k < K; ++k) merged[k].back() = strides[k][d];
        } else {
            sizes.push_back(shape[d]);
            for (size_t k = 0; k < K; ++k) merged[k].push_back(strides[k][d]);
        }
    }
    SR_CHECK(sizes.size() <= static_cast<size_t>(kMaxDims), op, ": more than ", kMaxDims,
             " dimensions after merging, shape ", shape);
    std::array<StridedPtr<T>, K> ptrs;
    for (size_t k = 0; k < K; ++k) {
        ptrs[k].data = operands[k].template data<T>();
        ptrs[k].ndim = sizes.empty() ? 1 : static_cast<int>(sizes.size());
        for (size_t d = 0; d < sizes.size(); ++d) {
            ptrs[k].size[d] = sizes[d];
            ptrs[k].stride[d] = merged[k][d];
        }
    }
    return ptrs;
}

// One row of a strided operand: element j sits j * step elements after p.
template <class T>
struct Row {
    const T* p;
    int64_t step;
    const T& operator[](int64_t j) const { return p[j * step]; }
};

// n values of a contiguous run: o[j] = f(in[j]...). Through a small local buffer, so that the
// compiler vectorises it even when o is one of the inputs (an in-place map: its runtime overlap
// check would otherwise send every such call down the scalar loop).
template <class T, class F, class... In>
void map_run(int64_t n, const F& f, T* o, const In*... in) {
    constexpr int64_t kChunk = 64;
    for (int64_t j0 = 0; j0 < n; j0 += kChunk) {
        const int64_t m = n - j0 < kChunk ? n - j0 : kChunk;
        T values[kChunk];
        for (int64_t j = 0; j < m; ++j) values[j] = f(in[j0 + j]...);
        for (int64_t j = 0; j < m; ++j) o[j0 + j] = values[j];
    }
}

// The CPU loop. Rows (all dimensions but the last) are spread over threads; within a row each
// operand advances by its own stride. When every operand is contiguous, or every operand's last
// stride is 1 (a channel slice), runs are plain indexed loops, which the compiler vectorises.
template <class T, class F, class... In>
void cpu_map(int64_t n, const F& f, StridedPtr<T> out, In... in) {
    if (out.contiguous() && (in.contiguous() && ...)) {
        constexpr int64_t kSpan = 4096;  // values per thread's turn
#pragma omp parallel for if (n > 32768)
        for (int64_t i = 0; i < n; i += kSpan)
            map_run(n - i < kSpan ? n - i : kSpan, f, out.data + i, static_cast<const T*>(in.data + i)...);
        return;
    }
    const int last = out.ndim - 1;
    const int64_t row_len = out.size[last];
    const int64_t rows = n / row_len;
    const bool unit_rows = out.stride[last] == 1 && ((in.stride[last] == 1) && ...);
#pragma omp parallel for if (n > 32768)
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t first = r * row_len;
        T* o = out.data + out.offset(first);
        if (unit_rows) {
            map_run(row_len, f, o, static_cast<const T*>(in.data + in.offset(first))...);
            continue;
        }
        const int64_t o_step = out.stride[last];
        auto write_row = [&](auto... row) {
            for (int64_t j = 0; j < row_len; ++j) o[j * o_step] = f(row[j]...);
        };
        write_row(Row<T>{in.data + in.offset(first), in.stride[last]}...);
    }
}

#if SR_HAS_CUDA
template <class F, size_t K>
void cuda_map(int device, int64_t n, const F& f, const std::array<StridedPtr<float>, K>& p) {
    std::apply([&](auto... ptr) { cuda::map(device, n, f, ptr...); }, p);
}
#endif

}  // namespace detail

// Writes f(inputs...) into `out`, which may be a strided view; inputs broadcast to out's shape.
template <class F, class... In>
void map_into(const char* op, const Tensor& out, const F& f, const In&... inputs) {
    const Device dev = out.device();
    for (const Tensor* t : {&inputs...}) {
        SR_CHECK(t->device() == dev, op, ": expects all tensors on ", dev, ", got ", *t);
        SR_CHECK(t->dtype() == out.dtype(), op, ": expects all tensors to be ", out.dtype(), ", got ", *t);
    }
    const int64_t n = out.numel();
    if (n == 0) return;
    constexpr size_t K = 1 + sizeof...(In);
    const std::array<Tensor, K> operands{out, inputs...};
    if (dev.is_cuda()) {
        SR_CHECK(out.dtype() == DType::F32, op, ": CUDA tensors are F32, got ", out.dtype());
        SR_CUDA_CALL(detail::cuda_map(dev.index, n, f, detail::plan<float, K>(out.shape(), operands, op)));
        return;
    }
    dispatch_float(out.dtype(), op, [&]<class T>() {
        auto p = detail::plan<T, K>(out.shape(), operands, op);
        std::apply([&](auto... ptr) { detail::cpu_map<T>(n, f, ptr...); }, p);
    });
}

// f(inputs...) as a new contiguous tensor of the inputs' broadcast shape.
template <class F, class... In>
Tensor map(const char* op, const F& f, const Tensor& first, const In&... rest) {
    Shape shape = first.shape();
    ((shape = broadcast_shapes(shape, rest.shape(), op)), ...);
    Tensor out = Tensor::empty(shape, first.dtype(), first.device());
    map_into(op, out, f, first, rest...);
    return out;
}

}  // namespace sr
