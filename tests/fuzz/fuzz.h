// What every fuzz harness shares. A harness feeds libFuzzer's bytes to one parser of user files;
// the parser may refuse them with sr::Error (that is its job), and anything else — a crash, a
// sanitizer report, another exception, a hang, memory past libFuzzer's limit, a property of an
// accepted input that does not hold (require) — is a finding.
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
//       return sr::fuzz::refusing_is_fine([&] { parse_safetensors(sr::fuzz::bytes(data, size), "input"); });
//   }
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace sr::fuzz {

inline std::string bytes(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }

// A property that must hold for every input the parser accepts: a finding (abort) when it does not.
inline void require(bool ok, const char* property) {
    if (ok) return;
    std::fprintf(stderr, "fuzz: property violated: %s\n", property);
    std::abort();
}

template <class F>
int refusing_is_fine(F&& parse) {
    try {
        parse();
    } catch (const sr::Error&) {
        // A clear refusal of bad input: what we want.
    }
    return 0;
}

}  // namespace sr::fuzz
