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

// Writes the parameters of the workload's kind, each unless `which` asks only for those
// that differ from the kind's default.
void write_parameters(YAML::Node& out, const workload_config& w, parameters which) {
    const workload_config fresh;
    const auto put = [&](const char* key, const auto& value, const auto& default_value, const auto& format) {
        if (which == parameters::all || value != default_value) {
            out[key] = format(value);
        }
    };
    switch (w.kind) {
        case workload_kind::sleep:
            put("period", w.sleep.period, fresh.sleep.period, format_duration);
            put("rounds", w.sleep.rounds, fresh.sleep.rounds, format_count);
            put("work", w.sleep.work, fresh.sleep.work, format_duration);
            return;
        case workload_kind::yield:
            put("rounds", w.yield.rounds, fresh.yield.rounds, format_count);
            put("work", w.yield.work, fresh.yield.work, format_duration);
            return;
        case workload_kind::ring:
            put("ring_size", w.ring.ring_size, fresh.ring.ring_size, format_count);
            return;
        case workload_kind::spawn_tree:
            put("fanout", w.spawn_tree.fanout, fresh.spawn_tree.fanout, format_count);
            put("depth", w.spawn_tree.depth, fresh.spawn_tree.depth, format_count);
            return;
        case workload_kind::cpu:
            put("slice", w.cpu.slice, fresh.cpu.slice, format_duration);
            put("rounds", w.cpu.rounds, fresh.cpu.rounds, format_count);
            return;
        case workload_kind::echo:
            put("period", w.echo.period, fresh.echo.period, format_duration);
            put("message", w.echo.message, fresh.echo.message, format_size);
            return;
        case workload_kind::rpc:
            put("period", w.rpc.period, fresh.rpc.period, format_duration);
            put("message", w.rpc.message, fresh.rpc.message, format_size);
            put("connections", w.rpc.connections, fresh.rpc.connections, format_count);
            return;
    }
}

}  // namespace

YAML::Node to_tree(const config& c, parameters which) {
    YAML::Node root(YAML::NodeType::Map);
    root["server"]["listen"] = c.server.listen;
    root["log"]["level"] = std::string(to_string(c.log.level));
    root["log"]["format"] = std::string(to_string(c.log.format));
    root["runtime"]["threads"] = c.runtime.threads;
    root["runtime"]["engine"] = std::string(to_string(c.runtime.engine));
    root["runtime"]["layout"] = std::string(to_string(c.runtime.layout));
    root["runtime"]["hand_off"] = std::string(to_string(c.runtime.hand_off));
    root["runtime"]["timer_tick"] = format_duration(c.runtime.timer_tick);
    root["runtime"]["asio"]["executor"] = std::string(to_string(c.runtime.asio.executor));
    root["runtime"]["asio"]["allocator"] = std::string(to_string(c.runtime.asio.allocator));
    root["runtime"]["asio"]["token"] = std::string(to_string(c.runtime.asio.token));
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
        write_parameters(workload, w, which);
        workloads.push_back(workload);
    }
    root["workloads"] = workloads;
    return root;
}

}  // namespace detail

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

std::string to_yaml(const config& c) {
    YAML::Emitter out;
    out << detail::to_tree(c);
    return std::string(out.c_str()) + "\n";
}

}  // namespace corostorm::config
