#include "core/image_io.h"

#include <cmath>
#include <limits>

#include "core/file.h"

// stb's implementations are compiled here, from the Debian package's headers, for the three
// formats srforge reads.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_FAILURE_USERMSG
#include <stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

namespace sr {

Tensor decode_image(const std::string& bytes, const std::string& what, int channels, ImageInfo* info) {
    SR_CHECK(channels == 0 || channels == 1 || channels == 3 || channels == 4, "read_image: channels must be 0, 1, 3 or 4, got ",
             channels);
    SR_CHECK(!bytes.empty(), "read_image: '", what, "' is empty");
    SR_CHECK(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), "read_image: '", what, "' is too large");
    const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
    const int len = static_cast<int>(bytes.size());
    int w = 0, h = 0, file_channels = 0;
    SR_CHECK(stbi_info_from_memory(data, len, &w, &h, &file_channels), "read_image: cannot decode '", what,
             "': ", stbi_failure_reason(), " (srforge reads PNG, JPEG and BMP)");
    const bool sixteen = stbi_is_16_bit_from_memory(data, len) != 0;
    const int out_channels = channels == 0 ? file_channels : channels;
    void* pixels = sixteen ? static_cast<void*>(stbi_load_16_from_memory(data, len, &w, &h, &file_channels, out_channels))
                           : static_cast<void*>(stbi_load_from_memory(data, len, &w, &h, &file_channels, out_channels));
    SR_CHECK(pixels != nullptr, "read_image: cannot decode '", what, "': ", stbi_failure_reason());
    if (info) *info = {w, h, file_channels, sixteen ? 16 : 8};

    // stb gives interleaved H x W x C; srforge wants planar C x H x W.
    Tensor t = Tensor::empty({out_channels, h, w}, DType::F32, Device::cpu());
    float* dst = t.data<float>();
    const int64_t plane = int64_t(h) * w;
    const float scale = sixteen ? 1.0f / 65535.0f : 1.0f / 255.0f;
    for (int64_t i = 0; i < plane; ++i)
        for (int c = 0; c < out_channels; ++c) {
            const int64_t k = i * out_channels + c;
            const float v = sixteen ? float(static_cast<const uint16_t*>(pixels)[k]) : float(static_cast<const uint8_t*>(pixels)[k]);
            dst[c * plane + i] = v * scale;
        }
    stbi_image_free(pixels);
    return t;
}

Tensor read_image(const std::string& path, int channels, ImageInfo* info) {
    return decode_image(read_file(path), path, channels, info);
}

std::string encode_png(const Tensor& image) {
    SR_CHECK(image.dim() == 3 && image.size(0) >= 1 && image.size(0) <= 4, "write_png: image must be [C, H, W] with C = 1..4, got ",
             image.shape());
    SR_CHECK(image.size(1) > 0 && image.size(2) > 0, "write_png: image has no pixels: ", image.shape());
    const Tensor t = image.detach().to(Device::cpu()).contiguous().to(DType::F64);
    const int C = static_cast<int>(image.size(0)), H = static_cast<int>(image.size(1)), W = static_cast<int>(image.size(2));
    const int64_t plane = int64_t(H) * W;
    std::vector<uint8_t> interleaved(static_cast<size_t>(plane * C));
    const double* src = t.data<double>();
    for (int c = 0; c < C; ++c)
        for (int64_t i = 0; i < plane; ++i) {
            const double v = src[c * plane + i];
            const double clamped = std::isnan(v) ? 0.0 : std::min(std::max(v, 0.0), 1.0);
            interleaved[i * C + c] = static_cast<uint8_t>(std::lround(clamped * 255.0));
        }
    std::string out;
    auto append = [](void* context, void* data, int size) {
        static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
    };
    SR_CHECK(stbi_write_png_to_func(append, &out, W, H, C, interleaved.data(), W * C) != 0,
             "write_png: encoding failed for image ", image.shape());
    return out;
}

void write_png(const std::string& path, const Tensor& image) { write_file_atomic(path, encode_png(image)); }

}  // namespace sr
