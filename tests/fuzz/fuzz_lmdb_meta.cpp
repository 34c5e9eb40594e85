// The meta_info.txt of BasicSR's LMDB datasets ("name.png (h,w,c) compression" per line).
#include "core/lmdb_images.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return sr::fuzz::refusing_is_fine([&] { sr::parse_lmdb_meta_info(sr::fuzz::bytes(data, size), "meta_info.txt"); });
}
