// --set overrides, applied to the parsed YAML tree before validation, so an overridden
// value is checked exactly like the same value written in the file.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "config/config.h"

namespace corostorm::config::detail {

struct applied_override {
    YAML::Node root;   // the new tree; it shares every node the override did not change
    std::string path;  // the key path written canonically (`workloads[0].period`)
};

// `root` (a map) with `entry.value` (parsed as YAML) set at `entry.path`; `root` itself is
// left as it was. A key the path goes through that is absent starts from its default
// value, so `scenario.stages[0].tasks` edits the default stages when the file has none;
// index == size appends an item. The canonical path is for pointing later validation
// errors at the override. Throws config_error for a malformed path or value and key_error
// when the tree has no room for the path.
applied_override apply_override(const YAML::Node& root, const override_entry& entry);

}  // namespace corostorm::config::detail
