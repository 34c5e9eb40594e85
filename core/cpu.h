// What the CPU can do, detected at run time (never assumed at compile time).
#pragma once

#include <string>

namespace sr {

struct CpuInfo {
    std::string model;     // "AMD EPYC 7B13", from /proc/cpuinfo where available
    int threads = 1;       // OpenMP threads srforge will use
    bool avx2 = false, fma = false, avx512f = false;
    bool avx512bf16 = false;  // vdpbf16ps: bf16 pair dot products (Cooper Lake, Sapphire Rapids, Zen 4)
};

const CpuInfo& cpu_info();

}  // namespace sr
