#include "train/config.h"

#include <cmath>
#include <cstdlib>
#include <optional>

#include "core/error.h"
#include "core/file.h"

namespace sr {

namespace {

std::string kind_of(const YAML::Node& node) {
    if (node.IsMap()) return "a mapping";
    if (node.IsSequence()) return "a list";
    if (node.IsNull()) return "empty (~)";
    return "'" + node.Scalar() + "'";
}

[[noreturn]] void wrong_type(const YAML::Node& node, const std::string& key, const char* expected) {
    fail(key, " must be ", expected, ", got ", kind_of(node));
}

}  // namespace

YAML::Node parse_yaml(const std::string& text, const std::string& what) {
    try {
        return YAML::Load(text);
    } catch (const YAML::Exception& e) {
        fail(what, ":", e.mark.line + 1, ":", e.mark.column + 1, ": YAML syntax error: ", e.msg);
    }
}

YAML::Node read_yaml(const std::string& path) { return parse_yaml(read_file(path), path); }

std::string yaml_where(const YAML::Node& node, const std::string& what) {
    const YAML::Mark m = node.Mark();
    if (m.is_null()) return what;
    return what + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

namespace {

// A finite number written as a scalar (BasicSR writes integers as !!float 5e3 too), or nothing.
// YAML 1.1's .inf/.nan are not options anyone means; strtod's "inf"/"nan" neither.
std::optional<double> finite_number(const YAML::Node& node) {
    if (!node.IsScalar()) return std::nullopt;
    const std::string& s = node.Scalar();
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

}  // namespace

double yaml_number(const YAML::Node& node, const std::string& key) {
    const std::optional<double> v = finite_number(node);
    if (!v) wrong_type(node, key, "a number");
    return *v;
}

int64_t yaml_integer(const YAML::Node& node, const std::string& key) {
    const std::optional<double> v = finite_number(node);
    if (!v || *v != std::floor(*v) || std::fabs(*v) > 9e15) wrong_type(node, key, "an integer");
    return int64_t(*v);
}

bool yaml_flag(const YAML::Node& node, const std::string& key) {
    if (node.IsScalar()) {
        const std::string& s = node.Scalar();
        if (s == "true" || s == "True" || s == "TRUE") return true;
        if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    wrong_type(node, key, "true or false");
}

std::string yaml_text(const YAML::Node& node, const std::string& key) {
    if (node.IsNull()) return "";
    if (!node.IsScalar()) wrong_type(node, key, "a single value");
    return node.Scalar();
}

std::vector<double> yaml_numbers(const YAML::Node& node, const std::string& key) {
    if (!node.IsSequence()) wrong_type(node, key, "a list of numbers like [1, 2]");
    std::vector<double> out;
    for (const YAML::Node& item : node) out.push_back(yaml_number(item, key));
    return out;
}

}  // namespace sr
