// Element types. F32 trains everywhere; F64 exists on the CPU so that gradient checks are exact
// enough to mean something. The others only carry data: U8 image bytes and raw file data, and the
// integer and boolean tensors of checkpoints (batch norm's I64 num_batches_tracked, masks); they are
// stored, copied and converted to F32/F64 (`to`), and no op computes with them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>

#include "core/error.h"

namespace sr {

enum class DType : uint8_t { F32, F64, U8, I8, I16, I32, I64, Bool };

inline size_t itemsize(DType t) {
    switch (t) {
        case DType::F64: case DType::I64: return 8;
        case DType::F32: case DType::I32: return 4;
        case DType::I16: return 2;
        case DType::U8: case DType::I8: case DType::Bool: return 1;
    }
    return 0;
}

// The names safetensors uses.
inline const char* name(DType t) {
    switch (t) {
        case DType::F32: return "F32";
        case DType::F64: return "F64";
        case DType::U8: return "U8";
        case DType::I8: return "I8";
        case DType::I16: return "I16";
        case DType::I32: return "I32";
        case DType::I64: return "I64";
        case DType::Bool: return "BOOL";
    }
    return "?";
}

inline bool is_floating(DType t) { return t == DType::F32 || t == DType::F64; }

inline std::ostream& operator<<(std::ostream& os, DType t) { return os << name(t); }

// The DType of a C++ type: dtype_of<float> == DType::F32.
template <class T> struct DTypeOf;  // only the ones below exist
template <> struct DTypeOf<float> { static constexpr DType value = DType::F32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::F64; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::U8; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::I8; };
template <> struct DTypeOf<int16_t> { static constexpr DType value = DType::I16; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::I32; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::I64; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::Bool; };
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

// Runs f.template operator()<T>() with T the C++ type of any dtype: for code that only moves or
// converts values (item, to, to_vector), never for arithmetic.
template <class F>
decltype(auto) dispatch_any(DType t, F&& f) {
    switch (t) {
        case DType::F32: return f.template operator()<float>();
        case DType::F64: return f.template operator()<double>();
        case DType::U8: return f.template operator()<uint8_t>();
        case DType::I8: return f.template operator()<int8_t>();
        case DType::I16: return f.template operator()<int16_t>();
        case DType::I32: return f.template operator()<int32_t>();
        case DType::I64: return f.template operator()<int64_t>();
        case DType::Bool: return f.template operator()<bool>();
    }
    fail("dtype: unknown dtype ", int(t));
}

}  // namespace sr
