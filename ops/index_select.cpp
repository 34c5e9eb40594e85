#include "ops/index_select.h"

#include "autograd/node.h"
#include "core/gpu.h"
#include "cuda/attention.h"
#include "ops/cuda_call.h"
#include "ops/registry.h"

namespace sr {

RowIndex::RowIndex(std::vector<int64_t> index, int64_t source_rows) : index_(std::move(index)), source_rows_(source_rows) {
    SR_CHECK(source_rows >= 0, "index_select: negative number of source rows ", source_rows);
    starts_.assign(static_cast<size_t>(source_rows + 1), 0);
    for (int64_t i : index_) {
        SR_CHECK(i >= 0 && i < source_rows, "index_select: index ", i, " out of range for ", source_rows, " rows");
        ++starts_[static_cast<size_t>(i + 1)];
    }
    for (size_t r = 1; r < starts_.size(); ++r) starts_[r] += starts_[r - 1];
    order_.resize(index_.size());
    std::vector<int64_t> next(starts_.begin(), starts_.end() - 1);
    for (size_t i = 0; i < index_.size(); ++i) order_[static_cast<size_t>(next[static_cast<size_t>(index_[i])]++)] = int64_t(i);
}

const RowIndex::DeviceCopy& RowIndex::on_device(int device) const {
    auto it = copies_.find(device);
    if (it != copies_.end()) return it->second;
    const size_t n = index_.size(), total = 2 * n + starts_.size();
    std::vector<int64_t> host;
    host.reserve(total);
    for (const auto* part : {&index_, &order_, &starts_}) host.insert(host.end(), part->begin(), part->end());
    void* raw = gpu::allocate(total * sizeof(int64_t), device);
    DeviceCopy copy;
    copy.memory = std::shared_ptr<void>(raw, [device](void* p) { gpu::release(p, device); });
    gpu::copy_host_to_device(raw, host.data(), total * sizeof(int64_t), device);
    const auto* base = static_cast<const int64_t*>(raw);
    copy.index = base;
    copy.order = base + n;
    copy.starts = base + 2 * n;
    return copies_.emplace(device, std::move(copy)).first->second;
}

namespace {

struct IndexSelectBackward : Node {
    std::shared_ptr<const RowIndex> index;
    int64_t C = 0;
    const char* name() const override { return "index_select"; }
    Tensors backward(const Tensors& grads) override {
        const Tensor g = grads[0].contiguous();
        const RowIndex& ix = *index;
        Tensor dx = Tensor::empty({ix.source_rows(), C}, g.dtype(), g.device());
        if (g.is_cuda()) {
            SR_CUDA_CALL(cuda::scatter_add_rows(g.data<float>(), ix.order_on(g.device().index), ix.starts_on(g.device().index),
                                                dx.data<float>(), ix.source_rows(), C, g.device().index));
            return {dx};
        }
        dispatch_float(g.dtype(), "index_select", [&]<class T>() {
            const T* gp = g.data<T>();
            T* out = dx.data<T>();
#pragma omp parallel for if (ix.size() * C > 32768)
            for (int64_t r = 0; r < ix.source_rows(); ++r)
                for (int64_t c = 0; c < C; ++c) {
                    double sum = 0;
                    for (int64_t k = ix.starts()[r]; k < ix.starts()[r + 1]; ++k) sum += double(gp[ix.order()[k] * C + c]);
                    out[r * C + c] = T(sum);
                }
        });
        return {dx};
    }
    void release() override {}
};

}  // namespace

Tensor index_select(const Tensor& x, std::shared_ptr<const RowIndex> index) {
    SR_CHECK(index != nullptr, "index_select: no index given");
    SR_CHECK(x.dim() == 2 && x.size(0) == index->source_rows(), "index_select: index selects from ", index->source_rows(),
             " rows of a 2-d tensor, got ", x.shape());
    const int64_t n = index->size(), C = x.size(1);
    const Tensor xc = x.detach().contiguous();
    Tensor y = Tensor::empty({n, C}, x.dtype(), x.device());
    if (x.is_cuda()) {
        SR_CUDA_CALL(cuda::gather_rows(xc.data<float>(), index->index_on(x.device().index), y.data<float>(), n, C, x.device().index));
    } else {
        dispatch_float(x.dtype(), "index_select", [&]<class T>() {
            const T* src = xc.data<T>();
            T* dst = y.data<T>();
#pragma omp parallel for if (n * C > 32768)
            for (int64_t i = 0; i < n; ++i)
                for (int64_t c = 0; c < C; ++c) dst[i * C + c] = src[index->index()[i] * C + c];
        });
    }
    if (needs_grad({x})) {
        auto node = std::make_shared<IndexSelectBackward>();
        node->index = std::move(index);
        node->C = C;
        record(node, {x}, {y});
    }
    return y;
}

std::vector<OpSpec> index_select_specs() {
    // Rows read several times, one never (row 3), and out of order.
    auto idx = std::make_shared<const RowIndex>(std::vector<int64_t>{4, 0, 2, 0, 1, 4, 4, 2}, 5);
    return {{"index_select", __FILE__,
             {{"8 of 5 rows, repeats and a gap", {{5, 3}}, [idx](const Tensors& in) { return Tensors{index_select(in[0], idx)}; }}}}};
}

}  // namespace sr
