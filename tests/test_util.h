// Small helpers shared by the tests.
#pragma once

#include <functional>
#include <string>

#include "core/error.h"

// The message of the sr::Error that f throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const sr::Error& e) {
        return e.what();
    }
    return "(no error)";
}
