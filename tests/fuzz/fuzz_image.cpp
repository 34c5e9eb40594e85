// The image decoders: PNG (8 and 16 bits, with our IHDR pre-check), JPEG and BMP through stb,
// with and without channel conversion.
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
    return sr::fuzz::refusing_is_fine([&] { sr::decode_image(bytes, "input", channels); });
}
