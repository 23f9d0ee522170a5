// libFuzzer target for the config loader: YAML text, --set overrides, the unit parsers.
//
// Input: the bytes before the first 0xFF are the config text; each piece after a 0xFF is
// one --set argument (KEY=VALUE). 0xFF never occurs in UTF-8, so splitting there hides
// no path of the loader from the fuzzer: other invalid bytes reach the same refusal.
// Empty text with overrides loads the defaults instead, as the command line does without -c.
//
// An input fails when it crashes, leaks, hangs or trips a sanitizer, or when the loader
// breaks its contract: an exception other than config_error; a message that is empty,
// holds a control character (it goes to a terminal) or grows with the file (it may quote a
// value, cut short, never a file's worth); a loaded config that to_yaml does not write
// such that it loads back equal; a unit that does not format back to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/units.h"

namespace {

using namespace corostorm::config;

// Room for the longest fixed text plus a cut-short value and key path; --set arguments
// are echoed as typed, so they add their own length.
constexpr std::size_t max_message_bytes = 2048;

[[noreturn]] void broken(std::string_view what, std::string_view detail) {
    std::fprintf(stderr, "config_fuzzer: %.*s\n---\n%.*s\n---\n", static_cast<int>(what.size()), what.data(),
                 static_cast<int>(detail.size()), detail.data());
    std::abort();
}

void check_message(std::string_view message, std::size_t echoed_bytes) {
    if (message.empty()) {
        broken("empty error message", message);
    }
    for (const char c : message) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20U || byte == 0x7FU) {
            broken("control character in an error message", message);
        }
    }
    if (message.size() > max_message_bytes + 4 * echoed_bytes) {
        broken("error message grows with the input", message);
    }
}

void check_units(std::string_view text) {
    if (const auto n = parse_count(text); n && parse_count(format_count(*n)) != n) {
        broken("count does not format back", text);
    }
    if (const auto d = parse_duration(text); d && parse_duration(format_duration(*d)) != d) {
        broken("duration does not format back", text);
    }
    if (const auto n = parse_size(text); n && parse_size(format_size(*n)) != n) {
        broken("size does not format back", text);
    }
    if (const auto p = parse_percent(text); p && parse_percent(detail::format_percent(*p)) != p) {
        broken("percentage does not format back", text);
    }
}

std::vector<std::string_view> split(std::string_view input, char separator) {
    std::vector<std::string_view> pieces;
    std::size_t start = 0;
    for (std::size_t at = input.find(separator); at != std::string_view::npos;
         at = input.find(separator, start)) {
        pieces.push_back(input.substr(start, at - start));
        start = at + 1;
    }
    pieces.push_back(input.substr(start));
    return pieces;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::vector<std::string_view> pieces = split(input, '\xff');
    const std::string_view text = pieces.front();
    check_units(text);

    std::vector<override_entry> overrides;
    std::size_t echoed_bytes = 0;
    for (std::size_t i = 1; i < pieces.size(); ++i) {
        echoed_bytes += pieces[i].size();
        try {
            overrides.push_back(parse_override(pieces[i]));
            check_units(overrides.back().value);
        } catch (const config_error& e) {
            check_message(e.what(), echoed_bytes);
        }
    }

    config loaded;
    try {
        loaded = text.empty() && !overrides.empty() ? load_defaults(overrides) : load_string(text, overrides);
    } catch (const config_error& e) {
        check_message(e.what(), echoed_bytes);
        return 0;
    }
    const std::string yaml = to_yaml(loaded);
    try {
        if (load_string(yaml) != loaded) {
            broken("to_yaml writes a config that loads back different", yaml);
        }
    } catch (const config_error& e) {
        broken("to_yaml writes a config that does not load back", yaml + "\n---\n" + e.what());
    }
    return 0;
}
