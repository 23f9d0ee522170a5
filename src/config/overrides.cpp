// Key paths (`scenario.stages[0].tasks`) and how they edit a YAML tree.
#include "config/overrides.h"

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
        return config_error("--set " + entry.path + "=" + entry.value +
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

// The first `count` segments as text.
std::string render(const key_path& path, std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i) {
        if (path[i].index) {
            out += '[';
            out += std::to_string(*path[i].index);
            out += ']';
        } else {
            out += i == 0 ? "" : ".";
            out += path[i].key;
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

// `node` is a handle into the tree, taken by value: assigning to a yaml-cpp handle that
// is already bound overwrites the node it refers to, so a walk must never reuse one.
void set_at(YAML::Node node, const YAML::Node& defaults, const key_path& path, std::size_t at,
            const YAML::Node& value) {
    const segment& step = path[at];
    const bool last = at + 1 == path.size();
    const std::string here = render(path, at);
    if (!step.index) {
        if (!node.IsMap()) {
            fail(here, "must be a map to set " + render(path, path.size()), node);
        }
        if (last) {
            node[step.key] = value;
            return;
        }
        const YAML::Node& lookup = node;  // const lookup: never inserts
        const YAML::Node default_child = default_under(defaults, step.key);
        if (const YAML::Node existing = lookup[step.key]; !existing.IsDefined() || existing.IsNull()) {
            node[step.key] = fresh_child(default_child, path[at + 1]);
        }
        set_at(node[step.key], default_child, path, at + 1, value);
        return;
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
    if (index == size) {
        if (last && !value.IsMap()) {
            fail(render(path, at + 1), "a new list item must be a map like {name: x, ...}", value);
        }
        node.push_back(last ? value : YAML::Node(YAML::NodeType::Map));
        if (last) {
            return;
        }
    } else if (last) {
        node[index] = value;
        return;
    }
    set_at(node[index], YAML::Node(), path, at + 1, value);
}

YAML::Node parse_value(const override_entry& entry) {
    try {
        return YAML::Load(entry.value);
    } catch (const YAML::ParserException& e) {
        throw config_error("--set " + entry.path + "=" + entry.value +
                           ": the value is not valid YAML: " + e.msg);
    }
}

}  // namespace

std::string apply_override(YAML::Node root, const override_entry& entry) {
    const key_path path = parse_path(entry);
    const YAML::Node value = parse_value(entry);
    set_at(root, to_tree(defaults(), parameters::non_default), path, 0, value);
    return render(path, path.size());
}

}  // namespace corostorm::config::detail
