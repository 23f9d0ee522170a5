#include "daemon/reload.h"

#include <fmt/format.h>

#include <cstddef>

namespace corostorm::daemon {

namespace {

std::string change(std::string_view key, std::string_view from, std::string_view to) {
    return fmt::format("{} ({} -> {})", key, from, to);
}

std::string headroom_text(const config::memory_config& m) {
    return m.headroom_bytes ? config::format_size(*m.headroom_bytes)
                            : fmt::format("{}%", m.headroom_fraction * 100.0);
}

// A workload's structure: what it was built as.
bool same_structure(const std::vector<config::workload_config>& a,
                    const std::vector<config::workload_config>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].name != b[i].name || a[i].kind != b[i].kind) return false;
    }
    return true;
}

std::string names(const std::vector<config::workload_config>& ws) {
    std::string out;
    for (const auto& w : ws) {
        out += out.empty() ? "" : ", ";
        out += fmt::format("{} ({})", w.name, config::to_string(w.kind));
    }
    return out;
}

}  // namespace

reload_plan plan_reload(const config::config& running, const config::config& fresh) {
    reload_plan plan;
    plan.effective = fresh;
    config::config& eff = plan.effective;

    // ---- restart-only keys: keep what runs ----
    if (fresh.server.listen != running.server.listen) {
        plan.restart_needed.push_back(change("server.listen", running.server.listen, fresh.server.listen));
        eff.server = running.server;
    }
    if (fresh.log.format != running.log.format) {
        plan.restart_needed.push_back(
            change("log.format", config::to_string(running.log.format), config::to_string(fresh.log.format)));
        eff.log.format = running.log.format;
    }
    if (fresh.runtime.threads != running.runtime.threads) {
        plan.restart_needed.push_back(change("runtime.threads", std::to_string(running.runtime.threads),
                                             std::to_string(fresh.runtime.threads)));
    }
    if (fresh.runtime.engine != running.runtime.engine) {
        plan.restart_needed.push_back(change("runtime.engine", config::to_string(running.runtime.engine),
                                             config::to_string(fresh.runtime.engine)));
    }
    if (fresh.runtime.layout != running.runtime.layout) {
        plan.restart_needed.push_back(change("runtime.layout", config::to_string(running.runtime.layout),
                                             config::to_string(fresh.runtime.layout)));
    }
    if (fresh.runtime.timer_tick != running.runtime.timer_tick) {
        plan.restart_needed.push_back(change("runtime.timer_tick",
                                             config::format_duration(running.runtime.timer_tick),
                                             config::format_duration(fresh.runtime.timer_tick)));
    }
    if (fresh.runtime.hand_off != running.runtime.hand_off) {
        plan.restart_needed.push_back(change("runtime.hand_off", config::to_string(running.runtime.hand_off),
                                             config::to_string(fresh.runtime.hand_off)));
    }
    if (fresh.runtime.asio.executor != running.runtime.asio.executor) {
        plan.restart_needed.push_back(change("runtime.asio.executor",
                                             config::to_string(running.runtime.asio.executor),
                                             config::to_string(fresh.runtime.asio.executor)));
    }
    if (fresh.runtime.asio.allocator != running.runtime.asio.allocator) {
        plan.restart_needed.push_back(change("runtime.asio.allocator",
                                             config::to_string(running.runtime.asio.allocator),
                                             config::to_string(fresh.runtime.asio.allocator)));
    }
    if (fresh.runtime.asio.token != running.runtime.asio.token) {
        plan.restart_needed.push_back(change("runtime.asio.token",
                                             config::to_string(running.runtime.asio.token),
                                             config::to_string(fresh.runtime.asio.token)));
    }
    eff.runtime = running.runtime;
    if (config::memory_limit_text(fresh.memory) != config::memory_limit_text(running.memory)) {
        plan.restart_needed.push_back(change("memory.limit", config::memory_limit_text(running.memory),
                                             config::memory_limit_text(fresh.memory)));
    }
    if (headroom_text(fresh.memory) != headroom_text(running.memory)) {
        plan.restart_needed.push_back(
            change("memory.headroom", headroom_text(running.memory), headroom_text(fresh.memory)));
    }
    eff.memory = running.memory;

    // ---- workloads: structure is restart-only, the rest is live ----
    if (!same_structure(running.workloads, fresh.workloads)) {
        plan.restart_needed.push_back(change("workloads", names(running.workloads), names(fresh.workloads)));
        eff.workloads = running.workloads;
    } else {
        for (std::size_t i = 0; i < fresh.workloads.size(); ++i) {
            const auto& was = running.workloads[i];
            auto& now = eff.workloads[i];
            const std::string key = fmt::format("workloads[{}] ({})", i, was.name);
            if (now.ring.ring_size != was.ring.ring_size) {
                plan.restart_needed.push_back(change(key + ".ring_size", std::to_string(was.ring.ring_size),
                                                     std::to_string(now.ring.ring_size)));
                now.ring = was.ring;
            }
            if (now.spawn_tree != was.spawn_tree) {
                plan.restart_needed.push_back(change(
                    key + ".fanout/depth", fmt::format("{}/{}", was.spawn_tree.fanout, was.spawn_tree.depth),
                    fmt::format("{}/{}", now.spawn_tree.fanout, now.spawn_tree.depth)));
                now.spawn_tree = was.spawn_tree;
            }
            // Message sizes and connections shape what echo and rpc open at start-up.
            if (now.echo.message != was.echo.message) {
                plan.restart_needed.push_back(change(key + ".message", config::format_size(was.echo.message),
                                                     config::format_size(now.echo.message)));
                now.echo.message = was.echo.message;
            }
            if (now.rpc.message != was.rpc.message) {
                plan.restart_needed.push_back(change(key + ".message", config::format_size(was.rpc.message),
                                                     config::format_size(now.rpc.message)));
                now.rpc.message = was.rpc.message;
            }
            if (now.rpc.connections != was.rpc.connections) {
                plan.restart_needed.push_back(change(key + ".connections",
                                                     std::to_string(was.rpc.connections),
                                                     std::to_string(now.rpc.connections)));
                now.rpc.connections = was.rpc.connections;
            }
            if (now.weight != was.weight) {
                plan.applied.push_back(
                    change(key + ".weight", fmt::format("{}", was.weight), fmt::format("{}", now.weight)));
                plan.scenario_changed = true;
            }
            if (now.sleep != was.sleep || now.yield != was.yield || now.cpu != was.cpu ||
                now.echo != was.echo || now.rpc != was.rpc) {
                plan.applied.push_back(key + " parameters");
                plan.params_changed = true;
            }
        }
    }

    // ---- the rest is live ----
    if (fresh.scenario != running.scenario) {
        plan.applied.push_back(fmt::format("scenario ({} stage(s), repeat {})", fresh.scenario.stages.size(),
                                           fresh.scenario.repeat));
        plan.scenario_changed = true;
    }
    if (fresh.latency.sample_every != running.latency.sample_every) {
        plan.applied.push_back(change("latency.sample_every", std::to_string(running.latency.sample_every),
                                      std::to_string(fresh.latency.sample_every)));
        plan.sampling_changed = true;
    }
    if (fresh.log.level != running.log.level) {
        plan.applied.push_back(
            change("log.level", config::to_string(running.log.level), config::to_string(fresh.log.level)));
        plan.log_level_changed = true;
    }
    return plan;
}

}  // namespace corostorm::daemon
