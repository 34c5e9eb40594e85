// Errors: one exception type, and SR_CHECK to throw it with a message built from pieces.
//
//   SR_CHECK(w.dim() == 4, "conv2d: weight must be 4-d, got ", w.shape());
//
// throws sr::Error("conv2d: weight must be 4-d, got [64, 3, 3]"). Messages name the op, what
// it expected and what it was given. Library code never calls exit() or assert() for user errors.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sr {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {

inline void append(std::ostringstream& os, const std::vector<int64_t>& shape) {
    os << '[';
    for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
    os << ']';
}
template <class T>
void append(std::ostringstream& os, const T& value) {
    os << value;
}

template <class... Args>
std::string format(const Args&... args) {
    std::ostringstream os;
    (append(os, args), ...);
    return os.str();
}

}  // namespace detail

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
    throw Error(detail::format(args...));
}

}  // namespace sr

#define SR_CHECK(cond, ...)                 \
    do {                                    \
        if (!(cond)) ::sr::fail(__VA_ARGS__); \
    } while (0)
