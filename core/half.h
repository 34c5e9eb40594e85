// Half-precision floats (IEEE binary16 and bfloat16) widened to float, exactly: the F16/BF16
// tensors of safetensors files and PyTorch checkpoints are read through these. And float
// narrowed to bfloat16, for bf16 products on the CPU (ops/gemm.h).
#pragma once

#include <bit>
#include <cstdint>

namespace sr {

inline float half_to_float(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
    uint32_t bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000u | (mantissa << 13);  // inf or nan
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;  // signed zero
    } else {          // subnormal half: normalise it
        exponent = 113;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            --exponent;
        }
        bits = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
    }
    return std::bit_cast<float>(bits);
}

inline float bfloat16_to_float(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

// The nearest bfloat16 (ties to even), as PyTorch's .to(torch.bfloat16) and the AVX512-BF16
// conversions round: add just under half of the dropped 16 bits' range, plus the kept lowest bit
// (so a tie rounds to the even side), and truncate. A NaN stays a NaN (quiet bit set: truncating
// its payload could otherwise leave infinity). Written as a select, not a branch, so that loops
// over it vectorise (the GEMM's bf16 packing and conv2d's padded copies run through them).
inline uint16_t float_to_bfloat16(float f) {
    const uint32_t bits = std::bit_cast<uint32_t>(f);
    const uint32_t nearest = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    const uint32_t quiet_nan = (bits >> 16) | 0x40u;
    return static_cast<uint16_t>((bits & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : nearest);
}

// f rounded to the nearest bfloat16 and widened back.
inline float round_to_bfloat16(float f) { return bfloat16_to_float(float_to_bfloat16(f)); }

// round_to_bfloat16 on x[0 .. n), in place.
inline void round_to_bfloat16(float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = round_to_bfloat16(x[i]);
}

}  // namespace sr
