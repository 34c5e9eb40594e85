// Training option files: YAML read by yaml-cpp (BasicSR's option files use anchors rarely, but
// `!!float 5e3`, `~`, flow lists, quoted keys and comments after values often; a real YAML parser
// reads them all). This file adds what yaml-cpp leaves to its callers: errors that name the file,
// line and column, and typed reading of a value whose message names the key, the value and the
// type that was expected.
//
//   const YAML::Node c = read_yaml("options/train/EDSR/train_EDSR_Mx2.yml");
//   double lr = yaml_number(c["train"]["optim_g"]["lr"], "train.optim_g.lr");
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace sr {

// A parsed document; a syntax error is an sr::Error "FILE:LINE:COLUMN: what yaml-cpp said".
YAML::Node parse_yaml(const std::string& text, const std::string& what);
YAML::Node read_yaml(const std::string& path);

// "FILE:LINE:COLUMN" of a node (1-based), for messages.
std::string yaml_where(const YAML::Node& node, const std::string& what);

// Scalars with their type checked. `key` is the dotted path named in errors ("train.optim_g.lr
// must be a number, got 'fast'"); callers put yaml_where() in front.
double yaml_number(const YAML::Node& node, const std::string& key);
int64_t yaml_integer(const YAML::Node& node, const std::string& key);
bool yaml_flag(const YAML::Node& node, const std::string& key);
std::string yaml_text(const YAML::Node& node, const std::string& key);  // any scalar, as written
std::vector<double> yaml_numbers(const YAML::Node& node, const std::string& key);  // a list

}  // namespace sr
