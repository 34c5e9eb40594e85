// Small helpers shared by the tests.
#pragma once

#include <cmath>
#include <functional>
#include <string>

#include "core/error.h"
#include "core/factory.h"

// The message of the sr::Error that f throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const sr::Error& e) {
        return e.what();
    }
    return "(no error)";
}

// Where two tensors of one shape differ most: |got - want| at element `at`, and the largest
// |want| (to turn the difference into a relative one).
struct Difference {
    double worst = 0, scale = 0, got = 0, want = 0;
    size_t at = 0;
};

inline Difference largest_difference(const sr::Tensor& got, const sr::Tensor& want) {
    const auto a = sr::to_vector(got), b = sr::to_vector(want);
    Difference d;
    for (double v : b) d.scale = std::max(d.scale, std::abs(v));
    for (size_t i = 0; i < a.size() && i < b.size(); ++i)
        if (std::abs(a[i] - b[i]) > d.worst) {
            d.worst = std::abs(a[i] - b[i]);
            d.at = i;
            d.got = a[i];
            d.want = b[i];
        }
    return d;
}
