#include "core/factory.h"

#include <cmath>

#include "core/gpu.h"

namespace sr {

Generator& default_generator() {
    static Generator generator(0);
    return generator;
}

void manual_seed(uint64_t seed) { default_generator().set_state(seed, 0); }

namespace {

// Builds a tensor whose element i is value(i); F32 tensors on the GPU use `gpu_fill` instead,
// which computes the same formula in a kernel.
template <class ValueAt, class GpuFill>
Tensor generate(const Shape& shape, Options options, const char* op, ValueAt value, GpuFill gpu_fill) {
    Tensor t = Tensor::empty(shape, options.dtype, options.device);
    const int64_t n = t.numel();
    if (options.device.is_cuda()) {
        gpu_fill(t.data<float>(), n, options.device.index);
        return t;
    }
    dispatch_float(options.dtype, op, [&]<class T>() {
        T* p = t.data<T>();
#pragma omp parallel for if (n > 65536)
        for (int64_t i = 0; i < n; ++i) p[i] = value.template operator()<T>(i);
    });
    return t;
}

}  // namespace

Tensor full(const Shape& shape, double value, Options options) {
    return generate(
        shape, options, "full", [&]<class T>(int64_t) { return static_cast<T>(value); },
        [&](float* p, int64_t n, int dev) { gpu::fill(p, n, static_cast<float>(value), dev); });
}

Tensor zeros(const Shape& shape, Options options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, Options options) { return full(shape, 1.0, options); }

Tensor arange(double start, double end, double step, Options options) {
    SR_CHECK(step != 0, "arange: step must not be 0");
    const double count = std::ceil((end - start) / step);
    SR_CHECK(std::isfinite(count) && count < 1e15, "arange: [", start, ", ", end, ") in steps of ", step,
             " is not a usable number of elements");
    const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
    return generate(
        {n}, options, "arange", [&]<class T>(int64_t i) { return static_cast<T>(start + step * i); },
        [&](float* p, int64_t len, int dev) { gpu::fill_arange(p, len, start, step, dev); });
}

Tensor uniform(const Shape& shape, double lo, double hi, Options options, Generator* gen) {
    SR_CHECK(lo <= hi, "uniform: expects lo <= hi, got [", lo, ", ", hi, ")");
    const RandomStream s = (gen ? *gen : default_generator()).next();
    return generate(
        shape, options, "uniform", [&]<class T>(int64_t i) { return uniform_at<T>(s, i, T(lo), T(hi)); },
        [&](float* p, int64_t n, int dev) { gpu::fill_uniform(p, n, s, float(lo), float(hi), dev); });
}

Tensor normal(const Shape& shape, double mean, double stddev, Options options, Generator* gen) {
    SR_CHECK(stddev >= 0, "normal: expects stddev >= 0, got ", stddev);
    const RandomStream s = (gen ? *gen : default_generator()).next();
    return generate(
        shape, options, "normal",
        [&]<class T>(int64_t i) { return normal_at<T>(s, i, T(mean), T(stddev)); },
        [&](float* p, int64_t n, int dev) { gpu::fill_normal(p, n, s, float(mean), float(stddev), dev); });
}

Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype) {
    SR_CHECK(static_cast<int64_t>(values.size()) == numel(shape), "from_vector: ", values.size(),
             " values do not fill shape ", shape);
    return generate(
        shape, {dtype, Device::cpu()}, "from_vector", [&]<class T>(int64_t i) { return static_cast<T>(values[i]); },
        [](float*, int64_t, int) {});
}

std::vector<double> to_vector(const Tensor& t) {
    Tensor c = t.detach().to(Device::cpu()).contiguous();
    std::vector<double> out(static_cast<size_t>(c.numel()));
    auto read = [&]<class T>() {
        const T* p = c.data<T>();
        for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(p[i]);
    };
    dispatch_any(c.dtype(), read);
    return out;
}

}  // namespace sr
