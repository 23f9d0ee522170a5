// Rendering of values inside config error messages.
#include "config/errors.h"

#include <algorithm>
#include <array>

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

std::string quote(std::string_view text) {
    constexpr std::size_t shown_bytes = 80;
    std::size_t cut = std::min(text.size(), shown_bytes);
    // Never cut a UTF-8 sequence in half: back up over continuation bytes.
    while (cut < text.size() && cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) {
        --cut;
    }
    std::string out = "\"";
    for (const char c : text.substr(0, cut)) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (byte < 0x20U || byte == 0x7FU) {
            constexpr std::array<char, 16> hex{'0', '1', '2', '3', '4', '5', '6', '7',
                                               '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
            out += "\\x";
            out += hex[byte >> 4U];
            out += hex[byte & 0xFU];
        } else {
            out += c;
        }
    }
    if (cut < text.size()) {
        return out + "...\" (" + std::to_string(text.size()) + " bytes)";
    }
    return out + '"';
}

}  // namespace corostorm::config::detail
