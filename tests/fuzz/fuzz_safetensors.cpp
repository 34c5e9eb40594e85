// Safetensors files: the header length, the JSON header (core/json.cpp), dtypes, shapes, offsets.
#include "core/safetensors.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return sr::fuzz::refusing_is_fine([&] { sr::parse_safetensors(sr::fuzz::bytes(data, size), "input"); });
}
