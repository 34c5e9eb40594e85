// Option files (BasicSR's YAML, through yaml-cpp) and the checks that follow reading them.
#include "train/options.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return sr::fuzz::refusing_is_fine([&] {
        const sr::TrainOptions options = sr::options_from_yaml(sr::fuzz::bytes(data, size), "input.yml");
        sr::check_options(options);
        sr::options_yaml(options);  // what config.yaml would hold
    });
}
