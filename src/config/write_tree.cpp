// config -> YAML, in the units a user would write.
#include <array>
#include <charconv>

#include "config/units.h"
#include "config/yaml_tree.h"

namespace corostorm::config {
namespace detail {
namespace {

// Shortest text that reads back as the same double, without exponent notation.
std::string format_number(double value) {
    std::array<char, 512> buf{};
    const auto [end, ec] =
        std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::fixed);
    return ec == std::errc{} ? std::string(buf.data(), end) : std::string("nan");
}

std::string memory_limit_text(const memory_config& m) {
    switch (m.limit) {
        case memory_limit_kind::automatic:
            return "auto";
        case memory_limit_kind::none:
            return "none";
        case memory_limit_kind::bytes:
            break;
    }
    return format_size(m.limit_bytes);
}

}  // namespace

YAML::Node to_tree(const config& c) {
    YAML::Node root(YAML::NodeType::Map);
    root["server"]["listen"] = c.server.listen;
    root["log"]["level"] = std::string(to_string(c.log.level));
    root["log"]["format"] = std::string(to_string(c.log.format));
    root["runtime"]["threads"] = c.runtime.threads;
    root["runtime"]["engine"] = std::string(to_string(c.runtime.engine));
    root["runtime"]["layout"] = std::string(to_string(c.runtime.layout));
    root["memory"]["limit"] = memory_limit_text(c.memory);
    root["memory"]["headroom"] = c.memory.headroom_bytes ? format_size(*c.memory.headroom_bytes)
                                                         : format_percent(c.memory.headroom_fraction);
    root["latency"]["sample_every"] = format_count(c.latency.sample_every);
    root["scenario"]["repeat"] = c.scenario.repeat;

    YAML::Node stages(YAML::NodeType::Sequence);
    for (const stage_config& s : c.scenario.stages) {
        YAML::Node stage(YAML::NodeType::Map);
        stage["name"] = s.name;
        // An absent `tasks` means "keep the previous target"; there is no value for that.
        if (s.tasks) {
            stage["tasks"] = format_count(*s.tasks);
        }
        stage["over"] = format_duration(s.over);
        stages.push_back(stage);
    }
    root["scenario"]["stages"] = stages;

    YAML::Node workloads(YAML::NodeType::Sequence);
    for (const workload_config& w : c.workloads) {
        YAML::Node workload(YAML::NodeType::Map);
        workload["name"] = w.name;
        workload["kind"] = std::string(to_string(w.kind));
        workload["weight"] = format_number(w.weight);
        switch (w.kind) {
            case workload_kind::sleep:
                workload["period"] = format_duration(w.sleep.period);
                workload["rounds"] = format_count(w.sleep.rounds);
                break;
        }
        workloads.push_back(workload);
    }
    root["workloads"] = workloads;
    return root;
}

}  // namespace detail

std::string to_yaml(const config& c) {
    YAML::Emitter out;
    out << detail::to_tree(c);
    return std::string(out.c_str()) + "\n";
}

}  // namespace corostorm::config
