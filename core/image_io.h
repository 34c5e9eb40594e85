// Image files <-> tensors, through stb (Debian's libstb-dev).
//
// read_image: PNG (8- and 16-bit), JPEG and BMP, gray, gray+alpha, RGB or RGBA, into an F32
//   tensor [C, H, W] with values in [0, 1] (8-bit / 255, 16-bit / 65535). `channels` 0 keeps the
//   file's channels; 1, 3 or 4 converts (gray is repeated into RGB, alpha dropped or added as 1).
// write_png: an [C, H, W] tensor (C = 1, 2, 3 or 4) with values in [0, 1], rounded to 8 or 16
//   bits; written atomically (core/file.h).
#pragma once

#include <string>

#include "core/tensor.h"

namespace sr {

struct ImageInfo {
    int width = 0, height = 0, channels = 0, bits = 8;
};

Tensor read_image(const std::string& path, int channels = 0, ImageInfo* info = nullptr);
// Size, channels and bit depth from the file's header alone (fast; the pixels are not decoded).
ImageInfo read_image_info(const std::string& path);
Tensor decode_image(const std::string& bytes, const std::string& what, int channels = 0, ImageInfo* info = nullptr);

void write_png(const std::string& path, const Tensor& image, int bits = 8);
std::string encode_png(const Tensor& image, int bits = 8);
// 8-bit baseline JPEG (stb's writer) of the colour channels; an alpha channel is dropped.
std::string encode_jpeg(const Tensor& image, int quality = 95);

}  // namespace sr
