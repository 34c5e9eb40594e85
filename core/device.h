// Where a tensor's memory lives: the CPU, or CUDA device `index`.
#pragma once

#include <charconv>
#include <ostream>
#include <string>

#include "core/error.h"

namespace sr {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
    DeviceType type = DeviceType::CPU;
    int index = 0;

    static Device cpu() { return {DeviceType::CPU, 0}; }
    static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
    bool is_cpu() const { return type == DeviceType::CPU; }
    bool is_cuda() const { return type == DeviceType::CUDA; }
    bool operator==(const Device&) const = default;

    // "cpu", "cuda", "cuda:1". Anything else is an error naming the text.
    static Device parse(const std::string& text);
};

inline std::ostream& operator<<(std::ostream& os, Device d) {
    if (d.is_cpu()) return os << "cpu";
    return os << "cuda:" << d.index;
}

inline Device Device::parse(const std::string& text) {
    if (text == "cpu") return cpu();
    if (text == "cuda") return cuda(0);
    if (text.rfind("cuda:", 0) == 0) {
        int index = -1;
        const char* first = text.data() + 5;
        const char* last = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(first, last, index);
        if (ec == std::errc() && ptr == last && first != last && index >= 0) return cuda(index);
    }
    fail("device: expected cpu, cuda or cuda:N, got '", text, "'");
}

}  // namespace sr
