#include "ops/dense_block.h"

#include "autograd/node.h"
#include "autograd/trace.h"
#include "ops/conv2d.h"
#include "ops/functors.h"
#include "ops/elementwise.h"
#include "ops/layout.h"
#include "ops/map.h"
#include "ops/registry.h"
#include "ops/winograd.h"

namespace sr {

namespace {

// The block's sizes; conv i reads channels [0, G0 + i G) of the buffer and writes [G0 + i G, G0 + (i+1) G).
struct DenseGeometry {
    int64_t N, G0, G, L, H, W;
    int64_t total() const { return G0 + L * G; }                  // channels of the buffer
    int64_t plane() const { return H * W; }
    int64_t batch_stride() const { return total() * plane(); }   // between samples of the buffer
    // Layer i's convolution, with its activation fused in.
    ConvShape layer(int64_t i, int64_t k, double negative_slope) const {
        ConvShape s{N, G0 + i * G, H, W, G, k, k, H, W, {}};
        s.opt.padding = k / 2;
        s.opt.activation = negative_slope == 0 ? Activation::ReLU : Activation::LeakyReLU;
        s.opt.negative_slope = negative_slope;
        return s;
    }
    ConvShape fusion(int64_t k) const {
        ConvShape s{N, total(), H, W, G0, k, k, H, W, {}};
        s.opt.padding = k / 2;
        return s;
    }
};

template <class T>
const T* ptr_or_null(const Tensor& t) {
    return t.defined() ? t.data<T>() : nullptr;
}

// The block's convolutions on the CPU in float that take the Winograd path read channel
// prefixes of one buffer, so in the forward they share its transformed input tiles
// (ops/winograd.h): each channel transformed once instead of by every later layer. Null where no
// convolution would use them. (Kept for the weight gradients too, the tiles of every block stay
// alive until backward, 2.25x the buffers: RRDBNet's step took 1.05-1.08x as long, read from
// memory what had been recomputed in cache, and 460 MB more; RDN-tiny's did not gain either.)
std::shared_ptr<WinogradInputs> shared_tiles(const DenseGeometry& geo, const Tensors& weights, const DenseBlockOptions& o,
                                             Device device, DType dtype) {
    if (!device.is_cpu() || dtype != DType::F32) return nullptr;
    const int64_t L = geo.L;
    bool any = use_winograd(geo.fusion(weights[L].size(2)));
    for (int64_t i = 0; i < L; ++i) any = any || use_winograd(geo.layer(i, weights[i].size(2), o.negative_slope));
    return any ? std::make_shared<WinogradInputs>(geo.N, geo.total(), geo.H, geo.W) : nullptr;
}

// y (+)= conv s of the buffer, through the shared tiles where s takes the Winograd path.
template <class T>
void buffer_forward(Device dev, const ConvShape& s, const T* bp, int64_t bs, const T* w, const T* b, T* y, int64_t y_bs,
                    WinogradInputs* tiles) {
    if constexpr (std::is_same_v<T, float>)
        if (tiles && use_winograd(s)) return winograd_forward(s, bp, bs, w, b, y, y_bs, false, tiles);
    conv2d_forward_on<T>(dev, s, bp, bs, w, b, y, y_bs);
}

struct DenseBlockBackward : Node {
    DenseGeometry geo{};
    DenseBlockOptions opt;
    Tensor buffer;                 // [N, G0 + L G, H, W]: x and every layer's activated output
    Tensors weights;               // L layer weights, then the fusion weight (contiguous)
    std::vector<bool> has_bias;    // per conv, same order
    const char* name() const override { return "residual_dense_block"; }

    Tensors backward(const Tensors& grads) override {
        const Tensor gy = grads[0].contiguous();
        const int64_t L = geo.L, P = geo.plane(), bs = geo.batch_stride();
        // Written whole by the fusion conv's data gradient (it reads every channel), then added to.
        Tensor gbuf = Tensor::empty(buffer.shape(), buffer.dtype(), buffer.device());
        Tensors gw(static_cast<size_t>(L + 1)), gb(static_cast<size_t>(L + 1));
        for (int64_t i = 0; i <= L; ++i) {
            gw[i] = Tensor::empty(weights[i].shape(), buffer.dtype(), buffer.device());
            if (has_bias[i]) gb[i] = Tensor::empty({weights[i].size(0)}, buffer.dtype(), buffer.device());
        }
        // y = scale * fusion(buffer) + x: the fusion conv sees scale * dL/dy.
        const Tensor g_fusion = gy * opt.residual_scale;
        const Device dev = buffer.device();
        dispatch_float(buffer.dtype(), "residual_dense_block", [&]<class T>() {
            T* gbp = gbuf.data<T>();
            const T* bp = buffer.data<T>();
            const T* gfp = g_fusion.data<T>();
            const ConvShape fs = geo.fusion(weights[L].size(2));
            conv2d_backward_params_on<T>(dev, fs, bp, bs, gfp, geo.G0 * P, gw[L].data<T>(), has_bias[L] ? gb[L].data<T>() : nullptr,
                                         false);
            conv2d_backward_input_on<T>(dev, fs, gfp, geo.G0 * P, weights[L].data<T>(), gbp, bs, false);
            // Layers in reverse: by the time layer i runs, its output slice of gbuf holds every
            // contribution (fusion and all later layers).
            for (int64_t i = L - 1; i >= 0; --i) {
                ConvShape s = geo.layer(i, weights[i].size(2), opt.negative_slope);
                const int64_t c0 = geo.G0 + i * geo.G, first = c0 * P;  // layer i's slice: channels, offset in a sample
                // Through the activation, read from its output (> 0 exactly where its input was).
                const Tensor g_slice = gbuf.slice(1, c0, c0 + geo.G);
                map_into("residual_dense_block", g_slice, LeakyReluGrad{opt.negative_slope}, buffer.slice(1, c0, c0 + geo.G),
                         g_slice);
                s.opt.activation = Activation::None;  // the kernels below see the gradient after it
                conv2d_backward_params_on<T>(dev, s, bp, bs, gbp + first, bs, gw[i].data<T>(),
                                             has_bias[i] ? gb[i].data<T>() : nullptr, false);
                conv2d_backward_input_on<T>(dev, s, gbp + first, bs, weights[i].data<T>(), gbp, bs, true);
            }
        });
        // dL/dx = dL/dy (the residual) + the buffer gradient of slice 0.
        const Tensor g_x = gbuf.slice(1, 0, geo.G0);
        map_into("residual_dense_block", g_x, Add{}, g_x, gy);
        Tensors result{gbuf.slice(1, 0, geo.G0)};
        for (int64_t i = 0; i < L; ++i) result.push_back(gw[i]);
        for (int64_t i = 0; i < L; ++i) result.push_back(gb[i]);
        result.push_back(gw[L]);
        result.push_back(gb[L]);
        return result;
    }
    void release() override {
        buffer = Tensor();
        weights.clear();
    }
};

void check_conv(const Tensor& w, const Tensor& b, int64_t out, int64_t in, const Tensor& x, const char* what, int64_t i) {
    SR_CHECK(w.dim() == 4 && w.size(0) == out && w.size(1) == in && w.size(2) == w.size(3) && w.size(2) % 2 == 1,
             "residual_dense_block: ", what, " ", i, " weight must be [", out, ", ", in, ", k, k] with k odd, got ", w.shape());
    SR_CHECK(!b.defined() || b.shape() == Shape{out}, "residual_dense_block: ", what, " ", i, " bias must be [", out,
             "], got ", b.defined() ? b.shape() : Shape{});
    for (const Tensor* t : {&w, &b})
        SR_CHECK(!t->defined() || (t->dtype() == x.dtype() && t->device() == x.device()),
                 "residual_dense_block: parameters must match the input's dtype and device, input ", x, ", got ", *t);
}

}  // namespace

Tensor residual_dense_block(const Tensor& x, const std::vector<Tensor>& layer_weights,
                            const std::vector<Tensor>& layer_biases, const Tensor& fusion_weight,
                            const Tensor& fusion_bias, DenseBlockOptions options) {
    TracedOp traced("residual_dense_block");
    SR_CHECK(x.dim() == 4, "residual_dense_block: input must be [N, G0, H, W], got ", x.shape());
    SR_CHECK(!layer_weights.empty() && layer_biases.size() == layer_weights.size(),
             "residual_dense_block: needs at least one layer and one bias entry (possibly undefined) per layer, got ",
             layer_weights.size(), " weights and ", layer_biases.size(), " biases");
    SR_CHECK(layer_weights[0].defined() && layer_weights[0].dim() == 4,
             "residual_dense_block: layer 0 weight must be [G, G0, k, k], got ",
             layer_weights[0].defined() ? layer_weights[0].shape() : Shape{});
    SR_CHECK(options.negative_slope >= 0, "residual_dense_block: negative_slope must be >= 0, got ", options.negative_slope);
    const int64_t L = static_cast<int64_t>(layer_weights.size());
    const DenseGeometry geo{x.size(0), x.size(1), layer_weights[0].size(0), L, x.size(2), x.size(3)};
    for (int64_t i = 0; i < L; ++i)
        check_conv(layer_weights[i], layer_biases[i], geo.G, geo.G0 + i * geo.G, x, "layer", i);
    check_conv(fusion_weight, fusion_bias, geo.G0, geo.total(), x, "fusion", 0);

    Tensors weights, biases;
    for (int64_t i = 0; i < L; ++i) {
        weights.push_back(layer_weights[i].detach().contiguous());
        biases.push_back(layer_biases[i].defined() ? layer_biases[i].detach().contiguous() : Tensor());
    }
    weights.push_back(fusion_weight.detach().contiguous());
    biases.push_back(fusion_bias.defined() ? fusion_bias.detach().contiguous() : Tensor());

    Tensor buffer = Tensor::empty({geo.N, geo.total(), geo.H, geo.W}, x.dtype(), x.device());
    {
        NoGradGuard no_grad;
        copy_(buffer.slice(1, 0, geo.G0), x);
    }
    Tensor fused = Tensor::empty(x.shape(), x.dtype(), x.device());
    std::shared_ptr<WinogradInputs> tiles = shared_tiles(geo, weights, options, x.device(), x.dtype());
    dispatch_float(x.dtype(), "residual_dense_block", [&]<class T>() {
        T* bp = buffer.data<T>();
        const int64_t P = geo.plane(), bs = geo.batch_stride();
        for (int64_t i = 0; i < L; ++i) {
            const int64_t first = (geo.G0 + i * geo.G) * P;
            buffer_forward<T>(x.device(), geo.layer(i, weights[i].size(2), options.negative_slope), bp, bs,
                              weights[i].data<T>(), ptr_or_null<T>(biases[i]), bp + first, bs, tiles.get());
        }
        buffer_forward<T>(x.device(), geo.fusion(weights[L].size(2)), bp, bs, weights[L].data<T>(),
                          ptr_or_null<T>(biases[L]), fused.data<T>(), geo.G0 * P, tiles.get());
    });
    Tensor y;
    {
        NoGradGuard no_grad;
        y = fused * options.residual_scale + x.detach();
    }

    Tensors inputs{x};
    inputs.insert(inputs.end(), layer_weights.begin(), layer_weights.end());
    inputs.insert(inputs.end(), layer_biases.begin(), layer_biases.end());
    inputs.push_back(fusion_weight);
    inputs.push_back(fusion_bias);
    if (needs_grad(inputs)) {
        auto node = std::make_shared<DenseBlockBackward>();
        node->geo = geo;
        node->opt = options;
        node->buffer = buffer;
        node->weights = weights;
        for (const Tensor& b : biases) node->has_bias.push_back(b.defined());
        record(node, inputs, {y});
    }
    // Inputs: x, the L layer weights, the L layer biases, the fusion weight and bias.
    return traced.result(y, inputs, {{"layers", double(L)}, {"slope", options.negative_slope}, {"residual_scale", options.residual_scale}});
}

std::vector<OpSpec> dense_block_specs() {
    OpSpec spec{"residual_dense_block", __FILE__, {}};
    // Inputs: x, L weights, L biases, fusion weight, fusion bias.
    auto add = [&](std::string label, int64_t N, int64_t G0, int64_t G, int64_t L, int64_t k, int64_t fk,
                   DenseBlockOptions o) {
        std::vector<Shape> shapes{{N, G0, 5, 7}};
        for (int64_t i = 0; i < L; ++i) shapes.push_back({G, G0 + i * G, k, k});
        for (int64_t i = 0; i < L; ++i) shapes.push_back({G});
        shapes.push_back({G0, G0 + L * G, fk, fk});
        shapes.push_back({G0});
        OpCase c{label, shapes, [L, o](const Tensors& in) {
                     const Tensors w(in.begin() + 1, in.begin() + 1 + L), b(in.begin() + 1 + L, in.begin() + 1 + 2 * L);
                     return Tensors{residual_dense_block(in[0], w, b, in[1 + 2 * L], in[2 + 2 * L], o)};
                 }};
        spec.cases.push_back(c);
    };
    add("RDN-style: ReLU, 1x1 fusion", 2, 3, 2, 3, 3, 1, {});
    add("ESRGAN-style: LeakyReLU 0.2, 3x3 fusion, x0.2", 2, 3, 2, 4, 3, 3, {.negative_slope = 0.2, .residual_scale = 0.2});
    add("one layer, batch 1", 1, 2, 3, 1, 3, 1, {});
    return {spec};
}

}  // namespace sr
