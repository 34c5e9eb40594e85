// The command line of srforge's tools. Each tool declares its flags once, on a Cli, and gets the
// same parsing, --help text and error messages as every other tool:
//
//   Cli cli("sr_info", "--model SPEC [--depth N] | --list", "What a model is: its layers, parameters and FLOPs.");
//   cli.string_flag("--model", "SPEC", "the network, e.g. edsr:num_feat=64", o.model);
//   cli.integer_flag("--depth", "N", "rows for modules down to this depth", o.depth, 1);
//   cli.switch_flag("--list", "print the model names", o.list);
//   cli.parse(argc, argv);
//
// and its main is `return run_tool("sr_info", [&] { ...; return 0; });`. Errors are sr::Error
// without the tool's name ("--depth must be an integer, got 'x'"); run_tool prints them with the
// name in front, once: "sr_info: --depth must be an integer, got 'x'".
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"

namespace sr {

class Cli {
public:
    // `usage` follows the tool's name on the usage line; `about` says what the tool does.
    Cli(std::string tool, std::string usage, std::string about);

    // Each flag's help line ends with the target's value at declaration, its default, where
    // there is one: a non-empty string, an integer inside its range, a device.
    void string_flag(const std::string& name, const std::string& placeholder, const std::string& help,
                     std::string& target);
    void integer_flag(const std::string& name, const std::string& placeholder, const std::string& help,
                      int64_t& target, int64_t min = 0, int64_t max = std::numeric_limits<int64_t>::max());
    void integer_flag(const std::string& name, const std::string& placeholder, const std::string& help, int& target,
                      int min = 0, int max = std::numeric_limits<int>::max());
    void device_flag(const std::string& name, const std::string& help, Device& target);
    // A flag without a value: present, it sets target to true.
    void switch_flag(const std::string& name, const std::string& help, bool& target);
    // The one argument that is not a flag (optional; at most one is accepted).
    void positional(const std::string& placeholder, const std::string& help, std::string& target);

    // Sets the declared targets from argv, in order. -h or --help prints help() and exits with
    // status 0; an unknown argument, a flag without its value or a bad number throws sr::Error.
    void parse(int argc, char** argv);
    std::string help() const;

private:
    struct Flag {
        std::string name, placeholder, help;  // no placeholder: a switch; no name: the positional argument
        std::function<void(const std::string& value)> set;
    };
    // Declares an integer flag of either width: store receives the parsed value, already range-checked.
    void add_integer(const std::string& name, const std::string& placeholder, const std::string& help, int64_t current,
                     int64_t min, int64_t max, const std::function<void(int64_t)>& store);
    const Flag* find(const std::string& name) const;
    bool take_positional(const std::string& arg);

    std::string tool_, usage_, about_;
    std::vector<Flag> flags_;
    std::optional<Flag> positional_;
    bool positional_given_ = false;
};

// A tool's main: returns what body returns; an exception that escapes it is printed as one line,
// "TOOL: message", on stderr, and the exit status is 1.
int run_tool(const char* tool, const std::function<int()>& body);

}  // namespace sr
