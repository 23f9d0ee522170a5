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
// Text in double quotes, escaped, and cut short when it would swamp the message. Control
// and invisible characters (bidi overrides, zero-width spaces, a stray byte order mark)
// and bytes that are not UTF-8 are written as escapes, so a message shows what the file
// holds and never drives the terminal.
std::string quote(std::string_view text);
// What the user typed (a --set argument) for echoing in a message: as typed when it is
// short and quote() would change nothing inside it, else quoted.
std::string as_typed(std::string_view text);
// The UTF-8 sequence that starts at text[at]: its length in bytes, with its code point in
// `code`; 0 when the bytes there are not well-formed UTF-8 (overlong, surrogate, beyond
// U+10FFFF, cut short).
std::size_t utf8_sequence(std::string_view text, std::size_t at, char32_t& code);
// A key as it appears in a key path: bare when it is a short run of visible ASCII, else
// quoted (`runtime."a b"`), so a key read from a file cannot make a path unreadable.
std::string key_text(std::string_view key);

}  // namespace corostorm::config::detail
