// The decoders behind core/image_io.h, one per format, each giving the file's own samples:
//   PNG  — libpng (Debian's libpng-dev), 8 and 16 bits; palettes, low bit depths and tRNS expanded;
//   JPEG — libjpeg-turbo's TurboJPEG API (libturbojpeg0-dev): the decoder OpenCV and Pillow use,
//          with its accurate IDCT and smooth chroma upsampling, so pixels match what BasicSR reads;
//   BMP  — stb_image.
// PNG and JPEG went to these libraries, both fuzzed by OSS-Fuzz and patched by Debian, after our
// fuzzer found an out-of-bounds write in the stb_image release Debian ships (a JPEG Huffman table
// of more than 256 codes, stb issue 1289, fixed upstream in 2.28 but not in Debian 12's copy).
// Every function checks the header's size against the pixel limit before any pixel is decoded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/image_io.h"

namespace sr::image_decoders {

// Interleaved H x W x C samples; 16-bit samples as native uint16_t, two bytes each.
struct Pixels {
    ImageInfo info;
    std::vector<uint8_t> bytes;
    // Sample k (in H x W x C order) as a number in [0, 255] or [0, 65535].
    uint32_t sample(size_t k) const;
};

enum class Format { Png, Jpeg, Bmp, Unknown };
Format format_of(const std::string& bytes);

ImageInfo read_info(const std::string& bytes, const std::string& what);
Pixels decode(const std::string& bytes, const std::string& what);

// The pixel limit (SR_MAX_IMAGE_PIXELS, 16384 x 16384 by default): an error naming it if over.
void check_pixel_limit(int64_t width, int64_t height, const std::string& what);

}  // namespace sr::image_decoders
