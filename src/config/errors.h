// Error reporting shared by the loader, the validator and --set. Every message about a
// key has the shape `KEY.PATH: PROBLEM, got VALUE`; key_error keeps the path apart so the
// loader can tell when a --set override is the cause and say so.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

#include "config/config.h"

namespace corostorm::config::detail {

class key_error : public config_error {
public:
    key_error(const std::string& path, std::string_view problem);

    const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
};

// A value in a key path, with where it sits: `scenario.stages[1].over`.
struct field {
    YAML::Node node;
    std::string path;
};

[[noreturn]] void fail(const std::string& path, std::string_view problem);
[[noreturn]] void fail(const std::string& path, std::string_view problem, const YAML::Node& got);
[[noreturn]] inline void fail(const field& f, std::string_view problem) { fail(f.path, problem, f.node); }

// How a node reads after "got": 5000, 1M and true bare; other text quoted; "a map" etc.
std::string describe(const YAML::Node& node);
// Text in double quotes, escaped, and cut short when it would swamp the message.
std::string quote(std::string_view text);

}  // namespace corostorm::config::detail
