// Safetensors files: the header length, the JSON header (core/json.cpp), dtypes, shapes, offsets.
// A file that parses must survive writing and reading back unchanged.
#include <cstring>

#include "core/safetensors.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return sr::fuzz::refusing_is_fine([&] {
        const sr::SafetensorsFile f = sr::parse_safetensors(sr::fuzz::bytes(data, size), "input");
        const sr::SafetensorsFile back = sr::parse_safetensors(sr::serialize_safetensors(f.tensors, f.metadata), "written back");
        sr::fuzz::require(back.metadata == f.metadata && back.tensors.size() == f.tensors.size(), "round trip keeps metadata and names");
        for (size_t i = 0; i < f.tensors.size(); ++i) {
            const sr::Tensor &a = f.tensors[i].second, &b = back.tensors[i].second;
            sr::fuzz::require(back.tensors[i].first == f.tensors[i].first && a.dtype() == b.dtype() && a.shape() == b.shape(),
                              "round trip keeps each tensor's name, dtype and shape");
            const size_t n = size_t(a.numel()) * sr::itemsize(a.dtype());
            sr::fuzz::require(n == 0 || std::memcmp(a.raw_data(), b.raw_data(), n) == 0, "round trip keeps each tensor's bytes");
        }
    });
}
