#include "cli.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <utility>

namespace sr {

namespace {

// What a flag's range allows, for the error about a value outside it: "in 1 .. 16", or where
// max is its type's largest value (no upper bound), "at least 5" or "at most 2147483647".
std::string range_text(int64_t min, int64_t max, bool too_small) {
    const bool unbounded = max == std::numeric_limits<int64_t>::max() || max == std::numeric_limits<int>::max();
    if (!unbounded) return "in " + std::to_string(min) + " .. " + std::to_string(max);
    return too_small ? "at least " + std::to_string(min) : "at most " + std::to_string(max);
}

// The integer in text, or an error naming the flag: not an integer, or outside min .. max.
int64_t parse_integer(const std::string& flag, const std::string& text, int64_t min, int64_t max) {
    int64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    SR_CHECK(ptr == end && ec != std::errc::invalid_argument, flag, " must be an integer, got '", text, "'");
    // from_chars reports a number beyond int64's range as out of range, leaving value unset.
    const bool fits = ec == std::errc();
    const bool too_small = fits ? value < min : text[0] == '-';
    const bool too_large = fits ? value > max : text[0] != '-';
    SR_CHECK(!too_small && !too_large, flag, " must be ", range_text(min, max, too_small), ", got ", text);
    return value;
}

std::string with_default(const std::string& help, const std::string& value) {
    return help + " (default " + value + ")";
}

}  // namespace

Cli::Cli(std::string tool, std::string usage, std::string about)
    : tool_(std::move(tool)), usage_(std::move(usage)), about_(std::move(about)) {}

void Cli::string_flag(const std::string& name, const std::string& placeholder, const std::string& help,
                      std::string& target) {
    flags_.push_back({name, placeholder, target.empty() ? help : with_default(help, target),
                      [&target](const std::string& value) { target = value; }});
}

void Cli::integer_flag(const std::string& name, const std::string& placeholder, const std::string& help,
                       int64_t& target, int64_t min, int64_t max) {
    add_integer(name, placeholder, help, target, min, max, [&target](int64_t value) { target = value; });
}

void Cli::integer_flag(const std::string& name, const std::string& placeholder, const std::string& help, int& target,
                       int min, int max) {
    add_integer(name, placeholder, help, target, min, max, [&target](int64_t value) { target = static_cast<int>(value); });
}

void Cli::add_integer(const std::string& name, const std::string& placeholder, const std::string& help, int64_t current,
                      int64_t min, int64_t max, const std::function<void(int64_t)>& store) {
    const bool has_default = current >= min && current <= max;
    flags_.push_back({name, placeholder, has_default ? with_default(help, std::to_string(current)) : help,
                      [store, name, min, max](const std::string& value) { store(parse_integer(name, value, min, max)); }});
}

void Cli::device_flag(const std::string& name, const std::string& help, Device& target) {
    std::ostringstream current;
    current << target;
    flags_.push_back({name, "cpu|cuda", with_default(help, current.str()),
                      [&target](const std::string& value) { target = Device::parse(value); }});
}

void Cli::switch_flag(const std::string& name, const std::string& help, bool& target) {
    flags_.push_back({name, "", help, [&target](const std::string&) { target = true; }});
}

void Cli::positional(const std::string& placeholder, const std::string& help, std::string& target) {
    positional_ = Flag{"", placeholder, help, [&target](const std::string& value) { target = value; }};
}

const Cli::Flag* Cli::find(const std::string& name) const {
    const auto it = std::find_if(flags_.begin(), flags_.end(), [&](const Flag& f) { return f.name == name; });
    return it == flags_.end() ? nullptr : &*it;
}

// A word that is no flag goes to the positional argument, if the tool has one and it is not yet given.
bool Cli::take_positional(const std::string& arg) {
    if (!positional_ || positional_given_ || arg.empty() || arg[0] == '-') return false;
    positional_->set(arg);
    positional_given_ = true;
    return true;
}

void Cli::parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            // Exiting here, in tool code, keeps every tool's parse a plain function returning its options.
            std::fputs(help().c_str(), stdout);
            std::exit(0);
        }
        const Flag* flag = find(arg);
        if (!flag && take_positional(arg)) continue;
        SR_CHECK(flag, "unknown argument '", arg, "' (see --help)");
        if (flag->placeholder.empty()) {  // a switch
            flag->set("");
            continue;
        }
        SR_CHECK(i + 1 < argc, arg, " needs a value");
        flag->set(argv[++i]);
    }
}

std::string Cli::help() const {
    std::vector<std::pair<std::string, std::string>> rows;  // (left column, help)
    if (positional_) rows.emplace_back(positional_->placeholder, positional_->help);
    for (const Flag& f : flags_) rows.emplace_back(f.placeholder.empty() ? f.name : f.name + " " + f.placeholder, f.help);
    rows.emplace_back("-h, --help", "print this help and exit");
    size_t width = 0;
    for (const auto& row : rows) width = std::max(width, row.first.size());
    std::string text = "usage: " + tool_ + " " + usage_ + "\n" + about_ + "\n\n";
    for (const auto& [left, help] : rows) text += "  " + left + std::string(width - left.size() + 3, ' ') + help + "\n";
    return text;
}

int run_tool(const char* tool, const std::function<int()>& body) {
    try {
        return body();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", tool, e.what());
        return 1;
    }
}

}  // namespace sr
