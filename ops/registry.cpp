#include "ops/registry.h"

#include "core/factory.h"

namespace sr {

// Each ops/ source file defines the specs of its ops (at its end, beside the ops themselves).
std::vector<OpSpec> layout_specs();
std::vector<OpSpec> elementwise_specs();
std::vector<OpSpec> activation_specs();
std::vector<OpSpec> reduce_specs();
std::vector<OpSpec> linear_specs();
std::vector<OpSpec> conv2d_specs();
std::vector<OpSpec> concat_specs();
std::vector<OpSpec> pixel_shuffle_specs();
std::vector<OpSpec> upsample_specs();
std::vector<OpSpec> batch_norm_specs();
std::vector<OpSpec> spectral_norm_specs();
std::vector<OpSpec> dense_block_specs();
std::vector<OpSpec> loss_specs();
std::vector<OpSpec> gan_loss_specs();
std::vector<OpSpec> ssim_specs();
std::vector<OpSpec> pool_specs();
std::vector<OpSpec> pad_specs();
std::vector<OpSpec> instance_norm_specs();
std::vector<OpSpec> conv_transpose2d_specs();
std::vector<OpSpec> layer_norm_specs();
std::vector<OpSpec> softmax_specs();
std::vector<OpSpec> matmul_specs();
std::vector<OpSpec> index_select_specs();
std::vector<OpSpec> window_specs();
std::vector<OpSpec> attention_specs();
std::vector<OpSpec> drop_path_specs();
std::vector<OpSpec> channel_attention_specs();

const std::vector<OpSpec>& op_registry() {
    static const std::vector<OpSpec> registry = [] {
        std::vector<OpSpec> all;
        for (auto specs : {layout_specs, elementwise_specs, activation_specs, reduce_specs, linear_specs, conv2d_specs,
                           concat_specs, pixel_shuffle_specs, upsample_specs, batch_norm_specs, spectral_norm_specs,
                           dense_block_specs, loss_specs, gan_loss_specs, ssim_specs, pool_specs, pad_specs,
                           instance_norm_specs, conv_transpose2d_specs, layer_norm_specs, softmax_specs, matmul_specs,
                           index_select_specs, window_specs, attention_specs, drop_path_specs,
                           channel_attention_specs}) {
            for (OpSpec& s : specs()) {
                const size_t slash = s.file.find_last_of('/');
                if (slash != std::string::npos) s.file = s.file.substr(slash + 1);
                all.push_back(std::move(s));
            }
        }
        return all;
    }();
    return registry;
}

Tensors make_case_inputs(const OpCase& c, DType dtype, uint64_t seed) {
    Generator gen(seed);
    Tensors inputs;
    for (const Shape& s : c.shapes) inputs.push_back(uniform(s, -1.0, 1.0, {dtype}, &gen));
    if (c.prepare) c.prepare(inputs);
    return inputs;
}

void keep_away_from(Tensor& x, double point, double margin) {
    SR_CHECK(x.is_cpu() && x.is_contiguous(), "keep_away_from: expects a contiguous CPU tensor, got ", x);
    dispatch_float(x.dtype(), "keep_away_from", [&]<class T>() {
        T* p = x.data<T>();
        for (int64_t i = 0; i < x.numel(); ++i) {
            const double d = p[i] - point;
            if (std::abs(d) < margin) p[i] = static_cast<T>(point + (d < 0 ? -margin : margin) + d);
        }
    });
}

void rescale(Tensor& x, double lo, double hi) {
    SR_CHECK(x.is_cpu() && x.is_contiguous(), "rescale: expects a contiguous CPU tensor, got ", x);
    dispatch_float(x.dtype(), "rescale", [&]<class T>() {
        T* p = x.data<T>();
        for (int64_t i = 0; i < x.numel(); ++i) p[i] = static_cast<T>(lo + (p[i] + 1.0) * 0.5 * (hi - lo));
    });
}

}  // namespace sr
