#include "ops/reduce.h"

#include <algorithm>

#include "autograd/node.h"
#include "cuda/reduce.h"
#include "ops/cuda_call.h"

namespace sr {

namespace {

// Which dimensions are reduced, as a mask; empty `dims` reduces all.
std::vector<bool> reduced_mask(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
    std::vector<bool> mask(x.shape().size(), dims.empty());
    for (int64_t d : dims) {
        const int n = normalize_dim(d, x.shape().size(), op);
        SR_CHECK(!mask[n], op, ": dimension ", d, " listed twice");
        mask[n] = true;
    }
    return mask;
}

// Sums x over the masked dimensions into a tensor of shape `kept` (the input's shape with size 1
// in reduced dimensions). The input is permuted so that reduced dimensions come last and made
// contiguous; each output element is then the sum of one contiguous run.
Tensor sum_kernel(const Tensor& x, const std::vector<bool>& mask, const char* op) {
    std::vector<int64_t> order;
    Shape kept = x.shape();
    for (size_t d = 0; d < mask.size(); ++d)
        if (!mask[d]) order.push_back(static_cast<int64_t>(d));
    for (size_t d = 0; d < mask.size(); ++d)
        if (mask[d]) {
            order.push_back(static_cast<int64_t>(d));
            kept[d] = 1;
        }
    const Tensor src = x.detach().permute(order).contiguous();
    Tensor out = Tensor::empty(kept, x.dtype(), x.device());
    const int64_t outer = out.numel();
    const int64_t run = outer == 0 ? 0 : x.numel() / outer;
    if (x.is_cuda()) {
        SR_CHECK(x.dtype() == DType::F32, op, ": CUDA tensors are F32, got ", x);
        SR_CUDA_CALL(cuda::sum_rows(src.data<float>(), out.data<float>(), outer, run, x.device().index));
        return out;
    }
    dispatch_float(x.dtype(), op, [&]<class T>() {
        const T* in = src.data<T>();
        T* o = out.data<T>();
        if (outer == 1) {
            // One long sum: fixed-size chunks summed in parallel, then combined in order.
            constexpr int64_t kChunk = 16384;
            const int64_t chunks = std::max<int64_t>(1, (run + kChunk - 1) / kChunk);
            std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for if (chunks > 1)
            for (int64_t c = 0; c < chunks; ++c) {
                partial[c] = sum_in_double(in + c * kChunk, std::min(run, (c + 1) * kChunk) - c * kChunk);
            }
            double total = 0;
            for (double p : partial) total += p;
            o[0] = static_cast<T>(total);
            return;
        }
#pragma omp parallel for if (x.numel() > 32768)
        for (int64_t i = 0; i < outer; ++i) o[i] = static_cast<T>(sum_in_double(in + i * run, run));
    });
    return out;
}

Shape drop_reduced(const Shape& kept, const std::vector<bool>& mask) {
    Shape s;
    for (size_t d = 0; d < kept.size(); ++d)
        if (!mask[d]) s.push_back(kept[d]);
    return s;
}

// dL/dx = dL/dy (with the reduced dimensions restored as size 1) broadcast over x, times `scale`
// (1 for sum, 1/count for mean).
struct SumBackward : Node {
    const char* op;
    Shape input_shape, kept_shape;
    double scale = 1;
    explicit SumBackward(const char* op) : op(op) {}
    const char* name() const override { return op; }
    std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
        Tensor gk = g[0].reshape(kept_shape);
        if (scale != 1) gk = gk * scale;
        return {gk.expand(input_shape)};
    }
    void release() override {}
};

Tensor reduce(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool average, const char* op) {
    const std::vector<bool> mask = reduced_mask(x, dims, op);
    Tensor kept = sum_kernel(x, mask, op);
    const int64_t count = kept.numel() == 0 ? 0 : x.numel() / std::max<int64_t>(kept.numel(), 1);
    const double scale = average ? 1.0 / static_cast<double>(count) : 1.0;
    if (average) {
        NoGradGuard no_grad;
        kept = kept * scale;
    }
    Tensor y = keepdim ? kept : kept.reshape(drop_reduced(kept.shape(), mask));
    if (needs_grad({x})) {
        auto node = std::make_shared<SumBackward>(op);
        node->input_shape = x.shape();
        node->kept_shape = kept.shape();
        node->scale = scale;
        record(node, {x}, {y});
    }
    return y;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) { return reduce(x, dims, keepdim, false, "sum"); }
Tensor sum(const Tensor& x) { return reduce(x, {}, false, false, "sum"); }
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) { return reduce(x, dims, keepdim, true, "mean"); }
Tensor mean(const Tensor& x) { return reduce(x, {}, false, true, "mean"); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
    if (x.shape() == shape) return x;
    SR_CHECK(shape.size() <= x.shape().size(), "sum_to: cannot sum ", x.shape(), " to ", shape);
    const size_t lead = x.shape().size() - shape.size();
    std::vector<int64_t> dims;
    for (size_t d = 0; d < x.shape().size(); ++d) {
        if (d < lead) {
            dims.push_back(static_cast<int64_t>(d));
            continue;
        }
        const int64_t want = shape[d - lead];
        SR_CHECK(want == x.shape()[d] || want == 1, "sum_to: cannot sum ", x.shape(), " to ", shape);
        if (want == 1 && x.shape()[d] != 1) dims.push_back(static_cast<int64_t>(d));
    }
    if (dims.empty()) return x.reshape(shape);  // only leading size-1 dimensions differ
    return sum(x, dims, true).reshape(shape);
}

}  // namespace sr

#include "ops/registry.h"

namespace sr {

std::vector<OpSpec> reduce_specs() {
    auto c = [](std::string label, std::function<Tensor(const Tensor&)> fn) {
        return OpCase{std::move(label), {{2, 3, 5, 7}}, [fn](const Tensors& in) { return Tensors{fn(in[0])}; }};
    };
    return {
        {"sum", __FILE__,
         {c("all", [](const Tensor& x) { return sum(x); }),
          c("dims [0,2,3] keepdim", [](const Tensor& x) { return sum(x, {0, 2, 3}, true); }),
          c("dim -1", [](const Tensor& x) { return sum(x, {-1}); }),
          c("of a permuted view, dim 1", [](const Tensor& x) { return sum(x.permute({3, 1, 0, 2}), {1}); })}},
        {"mean", __FILE__,
         {c("all", [](const Tensor& x) { return mean(x); }),
          c("dims [1] keepdim", [](const Tensor& x) { return mean(x, {1}, true); }),
          c("dims [2,3]", [](const Tensor& x) { return mean(x, {2, 3}); })}},
    };
}

}  // namespace sr
