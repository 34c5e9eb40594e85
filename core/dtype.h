// Element types. F32 trains everywhere; F64 exists on the CPU so that gradient checks are exact
// enough to mean something; U8 only carries image bytes and raw file data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>

#include "core/error.h"

namespace sr {

enum class DType : uint8_t { F32, F64, U8 };

inline size_t itemsize(DType t) {
    switch (t) {
        case DType::F32: return 4;
        case DType::F64: return 8;
        case DType::U8: return 1;
    }
    return 0;
}

inline const char* name(DType t) {
    switch (t) {
        case DType::F32: return "F32";
        case DType::F64: return "F64";
        case DType::U8: return "U8";
    }
    return "?";
}

inline std::ostream& operator<<(std::ostream& os, DType t) { return os << name(t); }

// The DType of a C++ type: dtype_of<float> == DType::F32.
template <class T> struct DTypeOf;  // only the three below exist
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::F64; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::U8; };
template <class T> constexpr DType dtype_of = DTypeOf<T>::value;

// Runs f.template operator()<T>() with T = float or double, chosen by `t`. Ops use it to write
// one templated body for both floating types:
//   dispatch_float(x.dtype(), "relu", [&]<class T>() { ... T* p = x.data<T>(); ... });
template <class F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
    switch (t) {
        case DType::F32: return f.template operator()<float>();
        case DType::F64: return f.template operator()<double>();
        default: fail(op, ": expects a floating tensor (F32 or F64), got ", name(t));
    }
}

}  // namespace sr
