// The two directions between a parsed YAML tree and the typed config, private to the
// config module. Nothing outside src/config sees YAML.
#pragma once

#include <yaml-cpp/yaml.h>

#include "config/config.h"

namespace corostorm::config::detail {

// Validates the whole tree (a map) and builds the config; throws key_error naming the
// first offending key. Reads only the known schema, so its depth is fixed whatever the
// input nests.
config from_tree(const YAML::Node& root);

// Every key, in the units a user would write; from_tree(to_tree(c)) == c.
YAML::Node to_tree(const config& c);

}  // namespace corostorm::config::detail
