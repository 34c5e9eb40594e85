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

namespace {

// A small file may declare a huge image (a PNG of zeros compresses 1000:1): the header's size is
// checked before anything is decoded.
void check_pixel_limit(int w, int h, const std::string& what) {
    const int64_t limit = limit_from_environment("SR_MAX_IMAGE_PIXELS", int64_t(16384) * 16384);
    SR_CHECK(int64_t(w) * int64_t(h) <= limit, "read_image: '", what, "' is ", w, "x", h, " pixels, more than the limit of ", limit,
             " (16384 x 16384 by default; set SR_MAX_IMAGE_PIXELS to change it)");
}

// stb_image refuses PNGs over 2^30 bytes decoded and then calls them "not of any known type":
// a PNG's size is read from its IHDR chunk here first (bytes 16..23, big-endian), so that a
// large image gets the limit's message and a valid one within it gets its own.
void check_header(const std::string& bytes, const std::string& what) {
    static const char signature[8] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};
    if (bytes.size() < 24 || bytes.compare(0, 8, signature, 8) != 0 || bytes.compare(12, 4, "IHDR") != 0) return;
    auto be32 = [&](size_t at) {
        return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) | (uint32_t(uint8_t(bytes[at + 2])) << 8) |
               uint32_t(uint8_t(bytes[at + 3]));
    };
    const uint32_t w = be32(16), h = be32(20);
    SR_CHECK(w > 0 && h > 0 && w <= (1u << 24) && h <= (1u << 24), "read_image: '", what, "' declares a ", w, "x", h, " image");
    check_pixel_limit(int(w), int(h), what);
}

}  // namespace

Tensor decode_image(const std::string& bytes, const std::string& what, int channels, ImageInfo* info) {
    SR_CHECK(channels == 0 || channels == 1 || channels == 3 || channels == 4, "read_image: channels must be 0, 1, 3 or 4, got ",
             channels);
    SR_CHECK(!bytes.empty(), "read_image: '", what, "' is empty");
    SR_CHECK(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), "read_image: '", what, "' is too large");
    const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
    const int len = static_cast<int>(bytes.size());
    int w = 0, h = 0, file_channels = 0;
    check_header(bytes, what);
    SR_CHECK(stbi_info_from_memory(data, len, &w, &h, &file_channels), "read_image: cannot decode '", what,
             "': ", stbi_failure_reason(), " (srforge reads PNG, JPEG and BMP)");
    check_pixel_limit(w, h, what);
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

ImageInfo read_image_info(const std::string& path) {
    const std::string bytes = read_file(path);
    SR_CHECK(!bytes.empty() && bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()), "read_image: '", path,
             "' is empty or too large");
    const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
    const int len = static_cast<int>(bytes.size());
    ImageInfo info;
    check_header(bytes, path);
    SR_CHECK(stbi_info_from_memory(data, len, &info.width, &info.height, &info.channels), "read_image: cannot decode '", path,
             "': ", stbi_failure_reason(), " (srforge reads PNG, JPEG and BMP)");
    check_pixel_limit(info.width, info.height, path);
    info.bits = stbi_is_16_bit_from_memory(data, len) ? 16 : 8;
    return info;
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

}  // namespace

std::string encode_png(const Tensor& image, int bits) {
    SR_CHECK(image.dim() == 3 && image.size(0) >= 1 && image.size(0) <= 4, "write_png: image must be [C, H, W] with C = 1..4, got ",
             image.shape());
    SR_CHECK(image.size(1) > 0 && image.size(2) > 0, "write_png: image has no pixels: ", image.shape());
    SR_CHECK(bits == 8 || bits == 16, "write_png: bits must be 8 or 16, got ", bits);
    const Tensor t = image.detach().to(Device::cpu()).contiguous().to(DType::F64);
    const int C = static_cast<int>(image.size(0)), H = static_cast<int>(image.size(1)), W = static_cast<int>(image.size(2));
    const int64_t plane = int64_t(H) * W;
    const double top = bits == 16 ? 65535.0 : 255.0;
    std::vector<uint16_t> interleaved(static_cast<size_t>(plane * C));
    const double* src = t.data<double>();
    for (int c = 0; c < C; ++c)
        for (int64_t i = 0; i < plane; ++i) {
            const double v = src[c * plane + i];
            const double clamped = std::isnan(v) ? 0.0 : std::min(std::max(v, 0.0), 1.0);
            interleaved[i * C + c] = static_cast<uint16_t>(std::lround(clamped * top));
        }
    if (bits == 16) return encode_png16(interleaved, W, H, C);
    const std::vector<uint8_t> bytes(interleaved.begin(), interleaved.end());
    std::string out;
    auto append = [](void* context, void* data, int size) {
        static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
    };
    SR_CHECK(stbi_write_png_to_func(append, &out, W, H, C, bytes.data(), W * C) != 0,
             "write_png: encoding failed for image ", image.shape());
    return out;
}

void write_png(const std::string& path, const Tensor& image, int bits) { write_file_atomic(path, encode_png(image, bits)); }

}  // namespace sr
