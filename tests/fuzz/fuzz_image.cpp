// The image decoders (core/image_decoders.cpp: libpng, libjpeg-turbo, stb for BMP), with and
// without channel conversion. A decoded image must have its header's shape and values in [0, 1].
#include <cstdlib>

#include "core/image_io.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // The default limit (16384 x 16384) would let a 30-byte header ask for 4 GiB, past libFuzzer's
    // memory limit, and large images make each run slow; the limit's logic is the same at any value.
    setenv("SR_MAX_IMAGE_PIXELS", "262144", 1);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes = sr::fuzz::bytes(data, size);
    const int channels = size ? data[size - 1] % 5 : 0;  // 0 keeps the file's; 1-4 convert (2 is refused)
    return sr::fuzz::refusing_is_fine([&] {
        sr::ImageInfo info;
        const sr::Tensor t = sr::decode_image(bytes, "input", channels, &info);
        sr::fuzz::require(t.dim() == 3 && t.size(0) == (channels ? channels : info.channels) && t.size(1) == info.height &&
                              t.size(2) == info.width,
                          "the image's shape is what its header says");
        const float* p = t.data<float>();
        for (int64_t i = 0; i < t.numel(); ++i) sr::fuzz::require(p[i] >= 0.0f && p[i] <= 1.0f, "every value is in [0, 1]");
    });
}
