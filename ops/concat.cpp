#include "ops/concat.h"

#include "autograd/node.h"
#include "autograd/trace.h"
#include "core/factory.h"
#include "ops/layout.h"
#include "ops/registry.h"

namespace sr {

namespace {

// dL/dx_i = the slice of dL/dy that x_i was copied into.
struct ConcatBackward : Node {
    int dim = 1;
    std::vector<int64_t> sizes;
    const char* name() const override { return "concat"; }
    Tensors backward(const Tensors& g) override {
        Tensors grads;
        int64_t start = 0;
        for (int64_t s : sizes) {
            grads.push_back(g[0].slice(dim, start, start + s));
            start += s;
        }
        return grads;
    }
    void release() override {}
};

// dL/dx = concat of the outputs' gradients, zeros for an output no gradient reached.
struct SplitBackward : Node {
    int dim = 1;
    Shape input_shape;
    std::vector<int64_t> sizes;
    const char* name() const override { return "split"; }
    Tensors backward(const Tensors& g) override {
        Tensors parts;
        const Tensor* any = nullptr;
        for (const Tensor& t : g)
            if (t.defined()) any = &t;
        for (size_t i = 0; i < g.size(); ++i) {
            if (g[i].defined()) {
                parts.push_back(g[i]);
                continue;
            }
            Shape s = input_shape;
            s[dim] = sizes[i];
            parts.push_back(zeros(s, {any->dtype(), any->device()}));
        }
        return {concat(parts, dim)};
    }
    void release() override {}
};

}  // namespace

Tensor concat(const std::vector<Tensor>& tensors, int64_t dim) {
    TracedOp traced("concat");
    SR_CHECK(!tensors.empty(), "concat: needs at least one tensor");
    const Tensor& first = tensors[0];
    const int d = normalize_dim(dim, first.shape().size(), "concat");
    Shape out_shape = first.shape();
    out_shape[d] = 0;
    std::vector<int64_t> sizes;
    for (const Tensor& t : tensors) {
        SR_CHECK(t.dim() == first.dim(), "concat: tensors must have the same number of dimensions, got ", first.shape(),
                 " and ", t.shape());
        for (int i = 0; i < t.dim(); ++i)
            SR_CHECK(i == d || t.size(i) == first.size(i), "concat: shapes ", first.shape(), " and ", t.shape(),
                     " differ outside dimension ", d);
        SR_CHECK(t.dtype() == first.dtype() && t.device() == first.device(), "concat: tensors must share dtype and device, got ",
                 first, " and ", t);
        sizes.push_back(t.size(d));
        out_shape[d] += t.size(d);
    }
    Tensor y = Tensor::empty(out_shape, first.dtype(), first.device());
    {
        NoGradGuard no_grad;
        int64_t start = 0;
        for (const Tensor& t : tensors) {
            copy_(y.slice(d, start, start + t.size(d)), t);
            start += t.size(d);
        }
    }
    if (needs_grad(tensors)) {
        auto node = std::make_shared<ConcatBackward>();
        node->dim = d;
        node->sizes = sizes;
        record(node, tensors, {y});
    }
    return traced.result(y, tensors, {{"dim", double(d)}});
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
    const int d = normalize_dim(dim, x.shape().size(), "split");
    int64_t total = 0;
    for (int64_t s : sizes) {
        SR_CHECK(s >= 0, "split: negative size in ", sizes);
        total += s;
    }
    SR_CHECK(total == x.size(d), "split: sizes ", sizes, " add up to ", total, ", not to ", x.size(d), " (dimension ", d,
             " of ", x.shape(), ")");
    Tensors parts;
    int64_t start = 0;
    const Tensor base = x.detach();
    for (int64_t s : sizes) {
        parts.push_back(base.slice(d, start, start + s));
        start += s;
    }
    if (needs_grad({x})) {
        auto node = std::make_shared<SplitBackward>();
        node->dim = d;
        node->input_shape = x.shape();
        node->sizes = sizes;
        record(node, {x}, parts);
    }
    return parts;
}

std::vector<OpSpec> concat_specs() {
    OpSpec cat{"concat", __FILE__, {}};
    cat.cases.push_back({"3 tensors, channels", {{2, 3, 5, 7}, {2, 1, 5, 7}, {2, 2, 5, 7}},
                         [](const Tensors& in) { return Tensors{concat(in, 1)}; }});
    cat.cases.push_back({"2 tensors, dim -1", {{2, 3, 5, 7}, {2, 3, 5, 2}},
                         [](const Tensors& in) { return Tensors{concat(in, -1)}; }});
    OpSpec spl{"split", __FILE__, {}};
    spl.cases.push_back({"[1, 2] channels", {{2, 3, 5, 7}}, [](const Tensors& in) { return split(in[0], {1, 2}, 1); }});
    spl.cases.push_back({"only one part used", {{2, 3, 5, 7}},
                         [](const Tensors& in) { return Tensors{split(in[0], {2, 3}, 2)[1] * 2.0}; }});
    return {cat, spl};
}

}  // namespace sr
