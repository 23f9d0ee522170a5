// YAML text to a tree, and the two directions between a tree and the typed config, private
// to the config module. Nothing outside src/config sees YAML.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>

#include "config/config.h"

namespace corostorm::config::detail {

// YAML text parsed: how many documents it holds, and the first of them (null when none).
struct yaml_text {
    std::size_t documents = 0;
    YAML::Node first;
};
// Never loops or grows without bound on malformed text, unlike yaml-cpp 0.7's LoadAll;
// costs one more pass over the text than LoadAll. Throws YAML::ParserException
// (YAML::DeepRecursion when nested too deep).
yaml_text parse_yaml(const std::string& text);

// Validates the whole tree (a map) and builds the config; throws key_error naming the
// first offending key. Reads only the known schema, so its depth is fixed whatever the
// input nests.
config from_tree(const YAML::Node& root);

// Which parameters to_tree writes for a workload: all those of its kind, or only the ones
// that differ from the kind's defaults. --set fills absent keys in from the latter, so
// that `--set workloads[0].kind=ring` on the default workload does not leave the sleep
// parameters behind, which a ring workload refuses.
enum class parameters { all, non_default };

// Every key, in the units a user would write; from_tree(to_tree(c)) == c for either
// choice of parameters.
YAML::Node to_tree(const config& c, parameters which = parameters::all);

}  // namespace corostorm::config::detail
