// PyTorch checkpoints: the zip container (libzip), the legacy container, and the restricted
// unpickler (core/pickle.cpp) with its tensor views.
#include "core/pth.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return sr::fuzz::refusing_is_fine([&] { sr::parse_pth(sr::fuzz::bytes(data, size), "input.pth"); });
}
