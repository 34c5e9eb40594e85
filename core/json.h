// A small, strict JSON reader and a string escaper: enough for safetensors headers and the
// JSON that srforge's tools read and write. Any syntax error is an sr::Error naming the offset.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sr {

struct Json {
    enum class Kind { Null, Bool, Number, String, Array, Object };
    Kind kind = Kind::Null;
    bool boolean = false;
    double number = 0;
    std::string text;                                      // String, and the literal text of a Number
    std::vector<Json> items;                               // Array; an Object's values, in file order
    std::vector<std::string> keys;                         // Object: keys[i] names items[i]

    // Parses a whole document; `what` names it in error messages. Duplicate object keys are an error.
    static Json parse(const std::string& source, const std::string& what);

    bool is(Kind k) const { return kind == k; }
    const Json* find(const std::string& key) const;  // Object member or nullptr
};

// "text" with JSON escapes, quotes included.
std::string json_quote(const std::string& text);

}  // namespace sr
