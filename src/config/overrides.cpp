// Key paths (`scenario.stages[0].tasks`) and how they edit a YAML tree.
#include "config/overrides.h"

#include <yaml-cpp/depthguard.h>

#include <charconv>
#include <optional>
#include <vector>

#include "config/errors.h"
#include "config/yaml_tree.h"

namespace corostorm::config::detail {
namespace {

struct segment {
    std::string key;                   // empty for a list index
    std::optional<std::size_t> index;  // set for a list index
};

using key_path = std::vector<segment>;

std::vector<segment> parse_path(const override_entry& entry) {
    const std::string_view path = entry.path;
    const auto bad = [&] {
        return config_error("--set " + as_typed(entry.path + "=" + entry.value) +
                            ": bad key path; write keys separated by dots and list indices in "
                            "brackets, like scenario.stages[0].tasks");
    };
    key_path out;
    std::size_t at = 0;
    while (at < path.size() || out.empty()) {
        if (at < path.size() && path[at] == '[') {
            const std::size_t close = path.find(']', at);
            if (out.empty() || close == std::string_view::npos) {
                throw bad();
            }
            std::size_t index = 0;
            const char* const first = path.data() + at + 1;
            const char* const last = path.data() + close;
            const auto [end, ec] = std::from_chars(first, last, index);
            if (first == last || ec != std::errc{} || end != last) {
                throw bad();
            }
            out.push_back({"", index});
            at = close + 1;
            continue;
        }
        if (!out.empty()) {
            if (path[at] != '.') {
                throw bad();
            }
            ++at;
        }
        const std::size_t end = std::min(path.find_first_of(".[]", at), path.size());
        if (end == at) {
            throw bad();
        }
        out.push_back({std::string(path.substr(at, end - at)), std::nullopt});
        at = end;
    }
    return out;
}

// The first `count` segments as text, each key written as the validator writes it, so that
// an error from validation can be traced back to the override that caused it.
std::string render(const key_path& path, std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i) {
        if (path[i].index) {
            out += '[';
            out += std::to_string(*path[i].index);
            out += ']';
        } else {
            out += i == 0 ? "" : ".";
            out += key_text(path[i].key);
        }
    }
    return out;
}

// What an absent key becomes before the rest of the path is applied inside it: its
// default when it has one, else an empty map or list, as the next step needs.
YAML::Node fresh_child(const YAML::Node& default_value, const segment& next) {
    if (!default_value.IsNull()) {
        return YAML::Clone(default_value);
    }
    return YAML::Node(next.index ? YAML::NodeType::Sequence : YAML::NodeType::Map);
}

// The default value under `key`, or null when there is none. (yaml-cpp throws if a
// missing child is asked anything but IsDefined(), so the result is never left missing.)
YAML::Node default_under(const YAML::Node& defaults, const std::string& key) {
    if (defaults.IsMap()) {
        if (const YAML::Node child = defaults[key]; child.IsDefined()) {
            return child;
        }
    }
    return YAML::Node();
}

// `node` with `value` set at path[at..]: new nodes along the path, every node off it shared
// with the original. Nothing is edited in place: a node can sit at several places in the
// tree (a YAML alias), and an edit through one place would show at all of them, or turn an
// alias of a node's own parent into a cycle.
YAML::Node with_set(const YAML::Node& node, const YAML::Node& defaults, const key_path& path, std::size_t at,
                    const YAML::Node& value) {
    const segment& step = path[at];
    const bool last = at + 1 == path.size();
    const std::string here = render(path, at);
    if (!step.index) {
        if (!node.IsMap()) {
            fail(here, "must be a map to set " + render(path, path.size()), node);
        }
        const YAML::Node default_child = default_under(defaults, step.key);
        const auto edited = [&](const YAML::Node& existing) {
            if (last) {
                return value;
            }
            return with_set(existing.IsNull() ? fresh_child(default_child, path[at + 1]) : existing,
                            default_child, path, at + 1, value);
        };
        YAML::Node out(YAML::NodeType::Map);
        bool found = false;
        for (const auto& entry : node) {
            // The first entry of the key, as a lookup finds it; a duplicate stays for
            // validation to report.
            const bool hit = !found && entry.first.IsScalar() && entry.first.Scalar() == step.key;
            out.force_insert(entry.first, hit ? edited(entry.second) : entry.second);
            found = found || hit;
        }
        if (!found) {
            out.force_insert(step.key, edited(YAML::Node()));
        }
        return out;
    }

    if (!node.IsSequence()) {
        fail(here, "must be a list to set " + render(path, path.size()), node);
    }
    const std::size_t index = *step.index;
    const std::size_t size = node.size();
    if (index > size) {
        fail(render(path, at + 1), "is past the end of a list of " + std::to_string(size) + " items; index " +
                                       std::to_string(size) + " appends one");
    }
    if (index == size && last && !value.IsMap()) {
        fail(render(path, at + 1), "a new list item must be a map like {name: x, ...}", value);
    }
    const auto edited = [&](const YAML::Node& item) {
        return last ? value : with_set(item, YAML::Node(), path, at + 1, value);
    };
    YAML::Node out(YAML::NodeType::Sequence);
    for (std::size_t i = 0; i < size; ++i) {
        out.push_back(i == index ? edited(node[i]) : node[i]);
    }
    if (index == size) {
        out.push_back(edited(YAML::Node(YAML::NodeType::Map)));
    }
    return out;
}

YAML::Node parse_value(const override_entry& entry) {
    const auto bad = [&](const std::string& problem) {
        return config_error("--set " + as_typed(entry.path + "=" + entry.value) + ": " + problem);
    };
    yaml_text parsed;
    try {
        parsed = parse_yaml(entry.value);
    } catch (const YAML::DeepRecursion& e) {
        throw bad("the value is nested more than " + std::to_string(e.depth() - 1) + " levels deep");
    } catch (const YAML::ParserException& e) {
        throw bad("the value is not valid YAML: " + detail::as_typed(e.msg));
    }
    if (parsed.documents > 1) {
        throw bad("the value holds " + std::to_string(parsed.documents) + " YAML documents; write one value");
    }
    return parsed.first;
}

}  // namespace

applied_override apply_override(const YAML::Node& root, const override_entry& entry) {
    const key_path path = parse_path(entry);
    const YAML::Node value = parse_value(entry);
    return {with_set(root, to_tree(defaults(), parameters::non_default), path, 0, value),
            render(path, path.size())};
}

}  // namespace corostorm::config::detail
