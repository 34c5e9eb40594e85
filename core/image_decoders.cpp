#include "core/image_decoders.h"

#include <png.h>
#include <stb_image.h>  // declarations; the implementation is compiled in core/image_io.cpp
#include <turbojpeg.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "core/file.h"

namespace sr::image_decoders {

uint32_t Pixels::sample(size_t k) const {
    if (info.bits == 8) return bytes[k];
    uint16_t v;
    std::memcpy(&v, bytes.data() + 2 * k, 2);
    return v;
}

Format format_of(const std::string& bytes) {
    if (bytes.size() >= 8 && png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) == 0) return Format::Png;
    if (bytes.size() >= 3 && bytes.compare(0, 3, "\xFF\xD8\xFF") == 0) return Format::Jpeg;
    if (bytes.size() >= 2 && bytes.compare(0, 2, "BM") == 0) return Format::Bmp;
    return Format::Unknown;
}

void check_pixel_limit(int64_t width, int64_t height, const std::string& what) {
    const int64_t limit = limit_from_environment("SR_MAX_IMAGE_PIXELS", int64_t(16384) * 16384);
    SR_CHECK(width > 0 && height > 0, "read_image: '", what, "' declares a ", width, "x", height, " image");
    SR_CHECK(width <= limit / height, "read_image: '", what, "' is ", width, "x", height, " pixels, more than the limit of ", limit,
             " (16384 x 16384 by default; set SR_MAX_IMAGE_PIXELS to change it)");
}

namespace {

[[noreturn]] void cannot_decode(const std::string& what, const std::string& why) { fail("read_image: cannot decode '", what, "': ", why); }

// ---- PNG: libpng ------------------------------------------------------------------------------
// libpng reports an error by longjmp to the last setjmp. The two functions that call into it set
// that target first and hold nothing with a destructor, so the jump skips no C++ cleanup; the
// reader's destructor frees libpng's state on every path.

struct PngReader {
    const std::string& bytes;
    size_t pos = 0;
    png_structp png = nullptr;
    png_infop info = nullptr;
    char message[256] = "";

    explicit PngReader(const std::string& b);
    ~PngReader() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

void png_on_error(png_structp png, png_const_charp message) {
    auto* r = static_cast<PngReader*>(png_get_error_ptr(png));
    std::snprintf(r->message, sizeof r->message, "%s", message);
    png_longjmp(png, 1);
}

void png_on_warning(png_structp, png_const_charp) {}  // e.g. an odd colour profile: the pixels are fine

void png_read_bytes(png_structp png, png_bytep out, size_t n) {
    auto* r = static_cast<PngReader*>(png_get_io_ptr(png));
    if (n > r->bytes.size() - r->pos) png_error(png, "the file ends early (truncated?)");
    std::memcpy(out, r->bytes.data() + r->pos, n);
    r->pos += n;
}

PngReader::PngReader(const std::string& b) : bytes(b) {
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, this, png_on_error, png_on_warning);
    SR_CHECK(png != nullptr, "read_image: out of memory starting libpng");
    info = png_create_info_struct(png);
    SR_CHECK(info != nullptr, "read_image: out of memory starting libpng");
    png_set_read_fn(png, this, png_read_bytes);
}

// Reads the chunks up to the pixels and sets the expansions srforge wants: palettes to RGB, gray
// of 1, 2 or 4 bits to 8, transparency chunks to an alpha channel, 16-bit samples to native order.
bool png_read_header(PngReader& r) {
    if (setjmp(png_jmpbuf(r.png))) return false;
    png_read_info(r.png, r.info);
    png_set_expand(r.png);
    if (png_get_bit_depth(r.png, r.info) == 16) png_set_swap(r.png);
    png_set_interlace_handling(r.png);
    png_read_update_info(r.png, r.info);
    return true;
}

// The pixels only: what follows them (text chunks, IEND) is not needed and not read.
bool png_read_pixels(PngReader& r, png_bytep* rows) {
    if (setjmp(png_jmpbuf(r.png))) return false;
    png_read_image(r.png, rows);
    return true;
}

ImageInfo png_header(PngReader& r, const std::string& what) {
    if (!png_read_header(r)) cannot_decode(what, r.message);
    ImageInfo info;
    const png_uint_32 w = png_get_image_width(r.png, r.info), h = png_get_image_height(r.png, r.info);
    check_pixel_limit(w, h, what);
    info.width = int(w), info.height = int(h);
    info.channels = png_get_channels(r.png, r.info);
    info.bits = png_get_bit_depth(r.png, r.info);
    return info;
}

Pixels decode_png(const std::string& bytes, const std::string& what) {
    PngReader r(bytes);
    Pixels p;
    p.info = png_header(r, what);
    const size_t row_bytes = png_get_rowbytes(r.png, r.info);
    SR_CHECK(row_bytes == size_t(p.info.width) * p.info.channels * (p.info.bits / 8), "read_image: '", what, "': unexpected PNG row layout");
    p.bytes.resize(row_bytes * size_t(p.info.height));
    std::vector<png_bytep> rows(size_t(p.info.height));
    for (size_t y = 0; y < rows.size(); ++y) rows[y] = p.bytes.data() + y * row_bytes;
    if (!png_read_pixels(r, rows.data())) cannot_decode(what, r.message);
    return p;
}

// ---- JPEG: TurboJPEG ---------------------------------------------------------------------------

using TurboHandle = std::unique_ptr<void, int (*)(tjhandle)>;

TurboHandle turbo_decompressor() {
    TurboHandle h(tjInitDecompress(), tjDestroy);
    SR_CHECK(h != nullptr, "read_image: cannot start libjpeg-turbo: ", tjGetErrorStr2(nullptr));
    return h;
}

ImageInfo jpeg_header(tjhandle h, const std::string& bytes, const std::string& what) {
    int w = 0, hgt = 0, subsampling = 0, colorspace = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    if (tjDecompressHeader3(h, data, static_cast<unsigned long>(bytes.size()), &w, &hgt, &subsampling, &colorspace) != 0)
        cannot_decode(what, tjGetErrorStr2(h));
    SR_CHECK(colorspace != TJCS_CMYK && colorspace != TJCS_YCCK, "read_image: '", what,
             "' is a CMYK JPEG (print colours); save it as RGB to use it");
    check_pixel_limit(w, hgt, what);
    return {w, hgt, colorspace == TJCS_GRAY ? 1 : 3, 8};
}

Pixels decode_jpeg(const std::string& bytes, const std::string& what) {
    TurboHandle h = turbo_decompressor();
    Pixels p;
    p.info = jpeg_header(h.get(), bytes, what);
    p.bytes.resize(size_t(p.info.width) * p.info.height * p.info.channels);
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    // LIMITSCANS refuses progressive files of more than 500 scans, which take minutes to decode.
    const int flags = TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS;
    const int status = tjDecompress2(h.get(), data, static_cast<unsigned long>(bytes.size()), p.bytes.data(), p.info.width, 0, p.info.height,
                                     p.info.channels == 1 ? TJPF_GRAY : TJPF_RGB, flags);
    if (status != 0) {
        // A warning still gives pixels; a file cut short gives gray where the rest was: an error.
        const std::string why = tjGetErrorStr2(h.get());
        if (tjGetErrorCode(h.get()) != TJERR_WARNING || why.find("Premature end") != std::string::npos) cannot_decode(what, why);
    }
    return p;
}

// ---- BMP: stb_image ----------------------------------------------------------------------------

ImageInfo bmp_header(const std::string& bytes, const std::string& what) {
    SR_CHECK(bytes.size() <= size_t(std::numeric_limits<int>::max()), "read_image: '", what, "' is too large for a BMP");
    ImageInfo info;
    if (!stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), int(bytes.size()), &info.width, &info.height, &info.channels))
        cannot_decode(what, stbi_failure_reason());
    check_pixel_limit(info.width, info.height, what);
    return info;
}

Pixels decode_bmp(const std::string& bytes, const std::string& what) {
    Pixels p;
    p.info = bmp_header(bytes, what);
    int w = 0, h = 0, c = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
        stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), int(bytes.size()), &w, &h, &c, p.info.channels), stbi_image_free);
    if (!pixels) cannot_decode(what, stbi_failure_reason());
    p.bytes.assign(pixels.get(), pixels.get() + size_t(w) * h * p.info.channels);
    return p;
}

[[noreturn]] void unknown_format(const std::string& what) {
    fail("read_image: cannot decode '", what, "': not a PNG, JPEG or BMP file (by its first bytes)");
}

}  // namespace

ImageInfo read_info(const std::string& bytes, const std::string& what) {
    switch (format_of(bytes)) {
        case Format::Png: {
            PngReader r(bytes);
            return png_header(r, what);
        }
        case Format::Jpeg: return jpeg_header(turbo_decompressor().get(), bytes, what);
        case Format::Bmp: return bmp_header(bytes, what);
        case Format::Unknown: break;
    }
    unknown_format(what);
}

Pixels decode(const std::string& bytes, const std::string& what) {
    switch (format_of(bytes)) {
        case Format::Png: return decode_png(bytes, what);
        case Format::Jpeg: return decode_jpeg(bytes, what);
        case Format::Bmp: return decode_bmp(bytes, what);
        case Format::Unknown: break;
    }
    unknown_format(what);
}

}  // namespace sr::image_decoders
