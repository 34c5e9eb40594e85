// Index math of HAT's overlapping windows, shared by the CPU loops of ops/window.cpp and the
// CUDA kernels of cuda/attention.cu. Token maps are [B, H, W, C] (channels last); window (i, j)
// of an image covers rows i * window - pad ... + size and columns j * window - pad ... + size,
// pad = (size - window) / 2, with zeros outside the map: nn.Unfold(kernel_size=size,
// stride=window, padding=pad) followed by HAT's rearrange to [B * windows, size * size, C].
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace sr {

struct OverlapWindows {
    int64_t B, H, W, C, window, size;

    SR_HD int64_t pad() const { return (size - window) / 2; }
    SR_HD int64_t rows() const { return H / window; }  // windows down an image
    SR_HD int64_t cols() const { return W / window; }  // windows across
    SR_HD int64_t output_numel() const { return B * rows() * cols() * size * size * C; }

    // The input element output element `o` copies, or -1 for the zero padding.
    SR_HD int64_t source(int64_t o) const {
        const int64_t c = o % C, t = o / C % (size * size), w = o / (C * size * size);
        const int64_t b = w / (rows() * cols()), i = w / cols() % rows(), j = w % cols();
        const int64_t y = i * window - pad() + t / size, x = j * window - pad() + t % size;
        if (y < 0 || y >= H || x < 0 || x >= W) return -1;
        return ((b * H + y) * W + x) * C + c;
    }

    // dL/dx for input element `e`: the sum of g over every window position that reads it, in
    // window order (deterministic; at most ceil(size / window)^2 terms).
    template <class T>
    SR_HD double gradient(const T* g, int64_t e) const {
        const int64_t c = e % C, x = e / C % W, y = e / (C * W) % H, b = e / (C * W * H);
        double sum = 0;
        for (int64_t i = 0; i < rows(); ++i) {
            const int64_t ty = y - i * window + pad();
            if (ty < 0 || ty >= size) continue;
            for (int64_t j = 0; j < cols(); ++j) {
                const int64_t tx = x - j * window + pad();
                if (tx < 0 || tx >= size) continue;
                const int64_t w = (b * rows() + i) * cols() + j;
                sum += double(g[(w * size * size + ty * size + tx) * C + c]);
            }
        }
        return sum;
    }
};

}  // namespace sr
