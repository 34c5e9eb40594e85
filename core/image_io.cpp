#include "core/image_io.h"

#include <cmath>
#include <limits>

#include "core/file.h"
#include "core/image_decoders.h"

// stb's implementations are compiled here, from the Debian package's headers: the writers, the
// BMP reader, and the JPEG reader that the JPEG degradation (train/degrade.cpp) runs on the bytes
// it has just encoded itself. Users' PNG and JPEG files are decoded by libpng and libjpeg-turbo
// (core/image_decoders.h says why).
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_FAILURE_USERMSG
#include <stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

namespace sr {

namespace {

// stb's luma for converting colour to gray (ITU-R BT.601 weights in 8-bit fixed point), so that a
// gray read gives the numbers it gave before the decoders changed.
uint32_t luma(uint32_t r, uint32_t g, uint32_t b) { return (r * 77 + g * 150 + b * 29) >> 8; }

// The value of output channel c (of `out` channels) at pixel i, from the file's samples.
uint32_t converted_sample(const image_decoders::Pixels& p, size_t i, int c, int out) {
    const int in = p.info.channels;
    const size_t at = i * size_t(in);
    const uint32_t opaque = p.info.bits == 16 ? 65535 : 255;
    if (out == in) return p.sample(at + c);
    const bool in_colour = in >= 3, in_alpha = in == 2 || in == 4;
    if (out == 1) return in_colour ? luma(p.sample(at), p.sample(at + 1), p.sample(at + 2)) : p.sample(at);
    if (c == 3) return in_alpha ? p.sample(at + in - 1) : opaque;   // out == 4: alpha kept or added
    return in_colour ? p.sample(at + c) : p.sample(at);               // gray repeated into RGB
}

}  // namespace

Tensor decode_image(const std::string& bytes, const std::string& what, int channels, ImageInfo* info) {
    SR_CHECK(channels == 0 || channels == 1 || channels == 3 || channels == 4, "read_image: channels must be 0, 1, 3 or 4, got ",
             channels);
    SR_CHECK(!bytes.empty(), "read_image: '", what, "' is empty");
    const image_decoders::Pixels pixels = image_decoders::decode(bytes, what);
    const ImageInfo& in = pixels.info;
    if (info) *info = in;
    const int out_channels = channels == 0 ? in.channels : channels;

    // Decoders give interleaved H x W x C; srforge wants planar C x H x W.
    Tensor t = Tensor::empty({out_channels, in.height, in.width}, DType::F32, Device::cpu());
    float* dst = t.data<float>();
    const int64_t plane = int64_t(in.height) * in.width;
    const float scale = in.bits == 16 ? 1.0f / 65535.0f : 1.0f / 255.0f;
    for (int64_t i = 0; i < plane; ++i)
        for (int c = 0; c < out_channels; ++c) dst[c * plane + i] = float(converted_sample(pixels, size_t(i), c, out_channels)) * scale;
    return t;
}

ImageInfo read_image_info(const std::string& path) {
    const std::string bytes = read_file(path);
    SR_CHECK(!bytes.empty(), "read_image: '", path, "' is empty");
    return image_decoders::read_info(bytes, path);
}

Tensor read_image(const std::string& path, int channels, ImageInfo* info) {
    return decode_image(read_file(path), path, channels, info);
}

namespace {

// PNG's CRC-32 (ISO 3309), for the chunks of 16-bit files.
uint32_t crc32(const std::string& bytes) {
    static const auto table = [] {
        std::vector<uint32_t> t(256);
        for (uint32_t n = 0; n < 256; ++n) {
            uint32_t c = n;
            for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }();
    uint32_t c = 0xFFFFFFFFu;
    for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

void put_be32(std::string& out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((v >> s) & 0xFF);
}

void chunk(std::string& png, const char* type, const std::string& data) {
    put_be32(png, static_cast<uint32_t>(data.size()));
    const std::string body = std::string(type, 4) + data;
    png += body;
    put_be32(png, crc32(body));
}

// A 16-bit PNG (stb writes only 8 bits): IHDR, one zlib-compressed IDAT of unfiltered rows, IEND.
std::string encode_png16(const std::vector<uint16_t>& samples, int W, int H, int C) {
    std::string raw;
    raw.reserve(size_t(H) * (size_t(W) * C * 2 + 1));
    for (int y = 0; y < H; ++y) {
        raw += '\0';  // filter type 0
        for (int i = 0; i < W * C; ++i) {
            const uint16_t v = samples[size_t(y) * W * C + i];
            raw += static_cast<char>(v >> 8);
            raw += static_cast<char>(v & 0xFF);
        }
    }
    int zlen = 0;
    unsigned char* z = stbi_zlib_compress(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size()), &zlen, 8);
    SR_CHECK(z != nullptr, "write_png: compression failed");
    const std::string idat(reinterpret_cast<const char*>(z), static_cast<size_t>(zlen));
    STBIW_FREE(z);
    const char color_type[] = {0, 0, 4, 2, 6};  // by channel count: gray, gray+alpha, RGB, RGBA
    std::string ihdr;
    put_be32(ihdr, static_cast<uint32_t>(W));
    put_be32(ihdr, static_cast<uint32_t>(H));
    ihdr += std::string{char(16), color_type[C], 0, 0, 0};
    std::string png("\x89PNG\r\n\x1a\n", 8);
    chunk(png, "IHDR", ihdr);
    chunk(png, "IDAT", idat);
    chunk(png, "IEND", "");
    return png;
}

// [C, H, W] in [0, 1] -> interleaved samples rounded to `bits`, NaN as 0; `who` names the caller in errors.
std::vector<uint16_t> interleaved_samples(const Tensor& image, int bits, const char* who) {
    SR_CHECK(image.dim() == 3 && image.size(0) >= 1 && image.size(0) <= 4, who, ": image must be [C, H, W] with C = 1..4, got ",
             image.shape());
    SR_CHECK(image.size(1) > 0 && image.size(2) > 0, who, ": image has no pixels: ", image.shape());
    const Tensor t = image.detach().to(Device::cpu()).contiguous().to(DType::F64);
    const int64_t C = image.size(0), plane = image.size(1) * image.size(2);
    const double top = bits == 16 ? 65535.0 : 255.0;
    std::vector<uint16_t> interleaved(static_cast<size_t>(plane * C));
    const double* src = t.data<double>();
    for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < plane; ++i) {
            const double v = src[c * plane + i];
            const double clamped = std::isnan(v) ? 0.0 : std::min(std::max(v, 0.0), 1.0);
            interleaved[size_t(i * C + c)] = static_cast<uint16_t>(std::lround(clamped * top));
        }
    return interleaved;
}

void append_bytes(void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

}  // namespace

std::string encode_png(const Tensor& image, int bits) {
    SR_CHECK(bits == 8 || bits == 16, "write_png: bits must be 8 or 16, got ", bits);
    const std::vector<uint16_t> interleaved = interleaved_samples(image, bits, "write_png");
    const int C = static_cast<int>(image.size(0)), H = static_cast<int>(image.size(1)), W = static_cast<int>(image.size(2));
    if (bits == 16) return encode_png16(interleaved, W, H, C);
    const std::vector<uint8_t> bytes(interleaved.begin(), interleaved.end());
    std::string out;
    SR_CHECK(stbi_write_png_to_func(append_bytes, &out, W, H, C, bytes.data(), W * C) != 0,
             "write_png: encoding failed for image ", image.shape());
    return out;
}

std::string encode_jpeg(const Tensor& image, int quality) {
    SR_CHECK(quality >= 1 && quality <= 100, "encode_jpeg: quality must be 1..100, got ", quality);
    const Tensor opaque = image.dim() == 3 && (image.size(0) == 2 || image.size(0) == 4) ? image.slice(0, 0, image.size(0) - 1) : image;
    const std::vector<uint16_t> interleaved = interleaved_samples(opaque, 8, "encode_jpeg");
    const std::vector<uint8_t> bytes(interleaved.begin(), interleaved.end());
    std::string out;
    SR_CHECK(stbi_write_jpg_to_func(append_bytes, &out, int(opaque.size(2)), int(opaque.size(1)), int(opaque.size(0)), bytes.data(), quality) != 0,
             "encode_jpeg: encoding failed for image ", image.shape());
    return out;
}

void write_png(const std::string& path, const Tensor& image, int bits) { write_file_atomic(path, encode_png(image, bits)); }

}  // namespace sr
