// Rendering of values inside config error messages.
#include "config/errors.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace corostorm::config::detail {

key_error::key_error(const std::string& path, std::string_view problem)
    : config_error(path + ": " + std::string(problem)), path_(path) {}

void fail(const std::string& path, std::string_view problem) { throw key_error(path, problem); }

void fail(const std::string& path, std::string_view problem, const YAML::Node& got) {
    throw key_error(path, std::string(problem) + ", got " + describe(got));
}

namespace {

bool is_bare_word(std::string_view text) {
    if (text == "true" || text == "false") {
        return true;
    }
    const auto word_char = [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
               c == '%' || c == '-' || c == '_';
    };
    const bool starts_like_number = !text.empty() && ((text[0] >= '0' && text[0] <= '9') || text[0] == '-');
    return starts_like_number && text.size() <= 64 && std::all_of(text.begin(), text.end(), word_char);
}

}  // namespace

std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map:
            return node.size() == 0 ? "an empty map" : "a map";
        case YAML::NodeType::Sequence:
            return node.size() == 0
                       ? "an empty list"
                       : "a list of " + std::to_string(node.size()) + (node.size() == 1 ? " item" : " items");
        case YAML::NodeType::Scalar:
            // A quoted scalar is text even when it looks like a number; show the quotes.
            return node.Tag() != "!" && is_bare_word(node.Scalar()) ? node.Scalar() : quote(node.Scalar());
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            break;
    }
    return "null";
}

std::size_t utf8_sequence(std::string_view text, std::size_t at, char32_t& code) {
    const auto lead = static_cast<unsigned char>(text[at]);
    if (lead < 0x80U) {
        code = lead;
        return 1;
    }
    // 0x80..0xC1 are continuation bytes or start overlong pairs; above 0xF4 is beyond
    // U+10FFFF.
    if (lead < 0xC2U || lead > 0xF4U) {
        return 0;
    }
    const std::size_t length = lead >= 0xF0U ? 4 : lead >= 0xE0U ? 3 : 2;
    if (text.size() - at < length) {
        return 0;
    }
    char32_t value = lead & (0x7FU >> length);
    for (std::size_t i = 1; i < length; ++i) {
        const auto next = static_cast<unsigned char>(text[at + i]);
        if ((next & 0xC0U) != 0x80U) {
            return 0;
        }
        value = (value << 6U) | (next & 0x3FU);
    }
    // The smallest code point that needs `length` bytes; less is an overlong encoding.
    constexpr std::array<char32_t, 5> smallest{0, 0, 0x80, 0x800, 0x10000};
    if (value < smallest[length] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
        return 0;
    }
    code = value;
    return length;
}

namespace {

// Characters that print as nothing, or reorder or break the text around them: C1
// controls, soft hyphen, zero-width and bidi formatting characters, the byte order mark.
bool invisible(char32_t c) {
    return (c >= 0x80 && c <= 0x9F) || c == 0xAD || c == 0x61C || c == 0x180E ||
           (c >= 0x200B && c <= 0x200F) || (c >= 0x2028 && c <= 0x202E) || (c >= 0x2060 && c <= 0x206F) ||
           c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB);
}

void append_hex(std::string& out, std::uint32_t value, int digits) {
    constexpr std::array<char, 16> hex{'0', '1', '2', '3', '4', '5', '6', '7',
                                       '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
    for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) {
        out += hex[(value >> static_cast<unsigned>(shift)) & 0xFU];
    }
}

// Appends the characters of `text` that start in its first `limit` bytes, escaping those
// that would not show as themselves (and quotes and backslashes when `in_quotes`).
// Returns the bytes consumed: whole characters only, a cut never splits a UTF-8 sequence.
std::size_t append_escaped(std::string& out, std::string_view text, std::size_t limit, bool in_quotes) {
    std::size_t at = 0;
    while (at < text.size() && at < limit) {
        char32_t code = 0;
        const std::size_t length = utf8_sequence(text, at, code);
        if (length == 0) {
            out += "\\x";
            append_hex(out, static_cast<unsigned char>(text[at]), 2);
            ++at;
            continue;
        }
        if (in_quotes && (code == '"' || code == '\\')) {
            out += '\\';
            out += static_cast<char>(code);
        } else if (code == '\n') {
            out += "\\n";
        } else if (code == '\t') {
            out += "\\t";
        } else if (code < 0x20 || code == 0x7F) {
            out += "\\x";
            append_hex(out, code, 2);
        } else if (invisible(code)) {
            out += "\\u";
            append_hex(out, code, 4);
        } else {
            out += text.substr(at, length);
        }
        at += length;
    }
    return at;
}

}  // namespace

std::string quote(std::string_view text) {
    constexpr std::size_t shown_bytes = 80;
    std::string out = "\"";
    if (append_escaped(out, text, shown_bytes, true) < text.size()) {
        return out + "...\" (" + std::to_string(text.size()) + " bytes)";
    }
    return out + '"';
}

std::string as_typed(std::string_view text) {
    constexpr std::size_t typed_bytes = 200;
    if (text.size() <= typed_bytes) {
        std::string out;
        append_escaped(out, text, typed_bytes, false);
        if (out == text) {
            return out;
        }
    }
    return quote(text);
}

std::string key_text(std::string_view key) {
    // '"' and brackets would read as part of the path's own syntax.
    const auto plain = [](char c) { return c > ' ' && c < 0x7F && c != '"' && c != '[' && c != ']'; };
    if (!key.empty() && key.size() <= 64 && std::all_of(key.begin(), key.end(), plain)) {
        return std::string(key);
    }
    return quote(key);
}

}  // namespace corostorm::config::detail
