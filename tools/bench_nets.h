// The three networks sr_bench times a training step of, written directly with ops, exactly as
// tools/bench/bench_torch.py writes them in PyTorch (so both sides time the same layers):
// EDSR-baseline (BasicSR EDSR, 64 features, 16 blocks), RDN (EDSR-PyTorch RDN) and RRDBNet
// (BasicSR, ESRGAN's generator). Only the layer structure matters for timing; initialisation is
// uniform +-1/sqrt(fan_in), made on the CPU and moved to the benchmark's device. Networks that
// models/ has (the transformers) are timed as models/ builds them (ModelNet); bench_torch.py runs
// tools/reference's definitions of the same.
#pragma once

#include <vector>

#include "core/factory.h"
#include "ops/activation.h"
#include "ops/concat.h"
#include "ops/conv2d.h"
#include "ops/dense_block.h"
#include "ops/pixel_shuffle.h"
#include "ops/upsample.h"
#include "models/layers.h"
#include "models/spec.h"

namespace sr::bench {

// A convolution's weight and bias, and the forward FLOPs it adds for a given input.
struct Conv {
    Tensor w, b;
    int64_t k = 3;
};

class Net {
public:
    explicit Net(Device device) : device_(device) {}
    virtual ~Net() = default;
    virtual Tensor forward(const Tensor& x) = 0;
    std::vector<Tensor> params;
    double forward_flops = 0;  // counted during the first forward (2 * MACs of every conv)

protected:
    Conv conv(int64_t in, int64_t out, int64_t k) {
        Generator& g = gen_;
        const double bound = 1.0 / std::sqrt(double(in * k * k));
        Conv c{uniform({out, in, k, k}, -bound, bound, {}, &g).to(device_).set_requires_grad(true),
               uniform({out}, -bound, bound, {}, &g).to(device_).set_requires_grad(true), k};
        params.push_back(c.w);
        params.push_back(c.b);
        return c;
    }
    Tensor run(const Conv& c, const Tensor& x, Activation act = Activation::None, double slope = 0.2) {
        if (counting_)
            forward_flops += 2.0 * double(x.size(0) * c.w.size(0) * x.size(2) * x.size(3) * c.w.size(1) * c.k * c.k);
        return conv2d(x, c.w, c.b, {.padding = c.k / 2, .activation = act, .negative_slope = slope});
    }
    bool counting_ = true;
    Generator gen_{2024};
    Device device_;

public:
    void stop_counting() { counting_ = false; }
};

// A network of models/, by spec string; FLOPs from its FlopCounter (convolutions, linear layers,
// attention products).
class ModelNet : public Net {
public:
    ModelNet(const std::string& spec, Device device) : Net(device), model_(make_model(spec)) {
        model_->to(device);
        params = model_->parameters();
    }
    Tensor forward(const Tensor& x) override {
        if (!counting_) return model_->forward(x);
        FlopCounter counter;
        Tensor y = model_->forward(x);
        forward_flops += counter.total();
        return y;
    }

private:
    std::shared_ptr<Network> model_;
};

// BasicSR EDSR: sub_mean, conv_first, num_block x (conv-ReLU-conv, res_scale), conv_after_body +
// long skip, log2(scale) x (conv to 4 num_feat + pixel_shuffle 2), conv_last, add_mean.
class Edsr : public Net {
public:
    Edsr(int64_t feat, int64_t blocks, int64_t scale, Device device) : Net(device), scale_(scale) {
        first_ = conv(3, feat, 3);
        for (int64_t i = 0; i < blocks; ++i) body_.push_back({conv(feat, feat, 3), conv(feat, feat, 3)});
        after_ = conv(feat, feat, 3);
        for (int64_t s = scale; s > 1; s /= 2) up_.push_back(conv(feat, feat * 4, 3));
        last_ = conv(feat, 3, 3);
    }
    Tensor forward(const Tensor& x) override {
        const Tensor mean = from_vector({0.4488, 0.4371, 0.4040}, {1, 3, 1, 1}).to(device_);
        Tensor h = run(first_, (x - mean) * 255.0);
        Tensor res = h;
        for (auto& [c1, c2] : body_) res = res + run(c2, run(c1, res, Activation::ReLU));
        res = run(after_, res) + h;
        for (const Conv& c : up_) res = pixel_shuffle(run(c, res), 2);
        return run(last_, res) * (1.0 / 255.0) + mean;
    }

private:
    int64_t scale_;
    Conv first_, after_, last_;
    std::vector<std::pair<Conv, Conv>> body_;
    std::vector<Conv> up_;
};

// EDSR-PyTorch RDN (G0, D blocks of C layers with growth G, scale 2 upsampler).
class Rdn : public Net {
public:
    Rdn(int64_t G0, int64_t D, int64_t C, int64_t G, Device device) : Net(device), C_(C) {
        sfe1_ = conv(3, G0, 3);
        sfe2_ = conv(G0, G0, 3);
        for (int64_t d = 0; d < D; ++d) {
            std::vector<Conv> layers;
            for (int64_t c = 0; c < C; ++c) layers.push_back(conv(G0 + c * G, G, 3));
            layers.push_back(conv(G0 + C * G, G0, 1));
            rdbs_.push_back(layers);
        }
        gff1_ = conv(D * G0, G0, 1);
        gff2_ = conv(G0, G0, 3);
        up_ = conv(G0, G * 4, 3);
        last_ = conv(G, 3, 3);
    }
    Tensor forward(const Tensor& x) override {
        const Tensor f1 = run(sfe1_, x);
        Tensor h = run(sfe2_, f1);
        Tensors outs;
        for (const auto& layers : rdbs_) {
            if (counting_)
                for (const Conv& c : layers)
                    forward_flops += 2.0 * double(h.size(0) * c.w.size(0) * h.size(2) * h.size(3) * c.w.size(1) * c.k * c.k);
            Tensors w, b;
            for (int64_t c = 0; c < C_; ++c) {
                w.push_back(layers[c].w);
                b.push_back(layers[c].b);
            }
            h = residual_dense_block(h, w, b, layers[C_].w, layers[C_].b);
            outs.push_back(h);
        }
        h = run(gff2_, run(gff1_, concat(outs, 1))) + f1;
        return run(last_, pixel_shuffle(run(up_, h), 2));
    }

private:
    int64_t C_;
    Conv sfe1_, sfe2_, gff1_, gff2_, up_, last_;
    std::vector<std::vector<Conv>> rdbs_;
};

// BasicSR RRDBNet (scale 4): conv_first, num_block RRDBs (3 residual dense blocks of 5 convs with
// LeakyReLU 0.2, each scaled by 0.2, then the RRDB's own 0.2 residual), conv_body + skip, two
// nearest-x2 + conv + LeakyReLU stages, conv_hr + LeakyReLU, conv_last.
class RrdbNet : public Net {
public:
    RrdbNet(int64_t feat, int64_t blocks, int64_t grow, Device device) : Net(device) {
        first_ = conv(3, feat, 3);
        for (int64_t i = 0; i < blocks * 3; ++i) {
            std::vector<Conv> rdb;
            for (int64_t c = 0; c < 4; ++c) rdb.push_back(conv(feat + c * grow, grow, 3));
            rdb.push_back(conv(feat + 4 * grow, feat, 3));
            rdbs_.push_back(rdb);
        }
        body_ = conv(feat, feat, 3);
        up1_ = conv(feat, feat, 3);
        up2_ = conv(feat, feat, 3);
        hr_ = conv(feat, feat, 3);
        last_ = conv(feat, 3, 3);
    }
    Tensor forward(const Tensor& x) override {
        const Tensor feat = run(first_, x);
        Tensor h = feat;
        for (size_t i = 0; i < rdbs_.size(); i += 3) {
            Tensor block_in = h;
            for (size_t j = i; j < i + 3; ++j) {
                if (counting_)
                    for (const Conv& c : rdbs_[j])
                        forward_flops += 2.0 * double(h.size(0) * c.w.size(0) * h.size(2) * h.size(3) * c.w.size(1) * 9);
                Tensors w, b;
                for (int c = 0; c < 4; ++c) {
                    w.push_back(rdbs_[j][c].w);
                    b.push_back(rdbs_[j][c].b);
                }
                h = residual_dense_block(h, w, b, rdbs_[j][4].w, rdbs_[j][4].b, {.negative_slope = 0.2, .residual_scale = 0.2});
            }
            h = h * 0.2 + block_in;
        }
        h = run(body_, h) + feat;
        h = run(up1_, upsample_nearest(h, 2), Activation::LeakyReLU);
        h = run(up2_, upsample_nearest(h, 2), Activation::LeakyReLU);
        return run(last_, run(hr_, h, Activation::LeakyReLU));
    }

private:
    Conv first_, body_, up1_, up2_, hr_, last_;
    std::vector<std::vector<Conv>> rdbs_;
};

}  // namespace sr::bench
