// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
//
// A counter-based generator has no hidden state: the numbers are a pure function of
// (key, counter). Element i of a random tensor is computed from counter (i, call) under key
// `seed`, so any thread on any device can produce element i on its own, and the same seed gives
// the same tensor on the CPU and on the GPU. Uniform values are bit-identical on both; normal
// values go through log/cos, whose last bit may differ between the CPU and CUDA math libraries.
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace sr {

// Which numbers a call draws: `seed` is the Philox key, `call` tells successive draws apart.
struct RandomStream {
    uint64_t seed = 0;
    uint64_t call = 0;
};

// Ten rounds of Philox4x32 on the 128-bit counter `ctr` with the 64-bit key `key`.
SR_HD inline void philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    const uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
    const uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
        const uint64_t p0 = uint64_t(kMul0) * c0;
        const uint64_t p1 = uint64_t(kMul1) * c2;
        const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
        const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += kWeyl0;
        k1 += kWeyl1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

// The four 32-bit random words of element `i` of a draw.
SR_HD inline void random_words(RandomStream s, uint64_t i, uint32_t out[4]) {
    const uint32_t ctr[4] = {uint32_t(i), uint32_t(i >> 32), uint32_t(s.call), uint32_t(s.call >> 32)};
    const uint32_t key[2] = {uint32_t(s.seed), uint32_t(s.seed >> 32)};
    philox4x32_10(ctr, key, out);
}

// Uniform in [0, 1) with the full mantissa of T: 24 bits for float, 53 bits for double.
template <class T>
SR_HD inline T unit_uniform(uint32_t a, uint32_t b) {
    if constexpr (sizeof(T) == 4) {
        (void)b;
        return T(a >> 8) * T(1.0 / 16777216.0);
    } else {
        return T((uint64_t(a) << 21) ^ (b >> 11)) * T(1.0 / 9007199254740992.0);
    }
}

template <class T>
SR_HD inline T uniform_at(RandomStream s, uint64_t i, T lo, T hi) {
    uint32_t w[4];
    random_words(s, i, w);
    return lo + (hi - lo) * unit_uniform<T>(w[0], w[1]);
}

// Box-Muller from two uniforms; u1 is shifted off 0 so the logarithm stays finite.
template <class T>
SR_HD inline T normal_at(RandomStream s, uint64_t i, T mean, T stddev) {
    uint32_t w[4];
    random_words(s, i, w);
    const T half_ulp = sizeof(T) == 4 ? T(1.0 / 33554432.0) : T(1.0 / 18014398509481984.0);
    const T u1 = unit_uniform<T>(w[0], w[1]) + half_ulp;
    const T u2 = unit_uniform<T>(w[2], w[3]);
    const T two_pi = T(6.283185307179586);
    return mean + stddev * hd::sqrt(T(-2) * hd::log(u1)) * hd::cos(two_pi * u2);
}

// Hands out RandomStreams: the same seed replays the same sequence of draws. Not thread-safe:
// give each thread (a data-loading worker, say) a Generator of its own.
class Generator {
public:
    explicit Generator(uint64_t seed = 0) : seed_(seed) {}
    RandomStream next() { return {seed_, call_++}; }
    uint64_t seed() const { return seed_; }
    uint64_t calls() const { return call_; }
    // Restores a state saved with seed() and calls(), e.g. from a checkpoint.
    void set_state(uint64_t seed, uint64_t calls) { seed_ = seed; call_ = calls; }

private:
    uint64_t seed_;
    uint64_t call_ = 0;
};

// The generator factories use when none is passed.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace sr
