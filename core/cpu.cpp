#include "core/cpu.h"

#include <fstream>
#include <omp.h>

namespace sr {

const CpuInfo& cpu_info() {
    static const CpuInfo info = [] {
        CpuInfo c;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_cpu_init();
        c.avx2 = __builtin_cpu_supports("avx2");
        c.fma = __builtin_cpu_supports("fma");
        c.avx512f = __builtin_cpu_supports("avx512f");
        c.avx512bf16 = c.avx512f && __builtin_cpu_supports("avx512bf16");
#endif
        c.threads = omp_get_max_threads();
        std::ifstream cpuinfo("/proc/cpuinfo");
        for (std::string line; std::getline(cpuinfo, line);) {
            if (line.rfind("model name", 0) == 0) {
                const size_t colon = line.find(':');
                if (colon != std::string::npos) c.model = line.substr(colon + 2);
                break;
            }
        }
        if (c.model.empty()) c.model = "unknown CPU";
        return c;
    }();
    return info;
}

}  // namespace sr
