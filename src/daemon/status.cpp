#include "daemon/status.h"

#include <cstdint>
#include <optional>

#include "metrics/recorder.h"

namespace corostorm::daemon {

namespace {

nlohmann::json memory_json(const status_inputs& in, const std::optional<metrics::memory_per_task>& mem) {
    if (!mem) return nullptr;
    nlohmann::json out{{"heap", mem->heap}, {"rss", mem->rss}};
    if (in.parts.frame_bytes_exact()) out["frame"] = mem->frame;
    return out;
}

nlohmann::json guard_json(const status_inputs& in) {
    if (in.guard == nullptr) return {{"limit", "none"}};
    const auto state = in.guard->state();
    const auto& memory_limit = in.memory_limit;
    return {
        {"limit", guard::to_string(memory_limit.source)},
        {"limit_bytes", memory_limit.limit_bytes},
        {"headroom_bytes", memory_limit.headroom_bytes},
        {"threshold_bytes", memory_limit.threshold_bytes()},
        {"usage_bytes", state.usage_bytes},
        {"bytes_per_task", state.bytes_per_task},
        {"capped", state.capped},
        {"episodes", state.episodes},
        {"address_space_bytes",
         memory_limit.address_space_bytes > 0 ? nlohmann::json(memory_limit.address_space_bytes) : nullptr},
        {"address_space_binds", state.address_space_binds}};
}

nlohmann::json descriptors_json(const status_inputs& in) {
    const auto& plan = in.parts.fd_plan();
    const guard::fd_demand& demand = in.fd_demand;
    nlohmann::json out{{"limit", plan.limits.soft},
                       {"hard_limit", plan.limits.hard},
                       {"open_at_start", plan.open_at_start},
                       {"reserved", plan.reserved},
                       {"echo_connections_max", plan.max_connections()},
                       {"echo_connections_asked", demand.asked_connections},
                       {"echo_connections_fit", demand.fits_connections},
                       {"capped", demand.capped()}};
    if (demand.capped()) out["message"] = guard::describe_cap(demand, plan);
    return out;
}

}  // namespace

nlohmann::json status_json(const status_inputs& in) {
    using nlohmann::json;
    const config::config& cfg = in.cfg;
    const assembly& parts = in.parts;
    const auto totals = parts.totals();
    const auto& view = in.view;
    const auto mem = parts.memory_per_task(totals);
    const auto& workload_names = parts.workload_names();
    json workloads = json::object();
    std::uint64_t target_total = 0;
    for (std::size_t w = 0; w < workload_names.size(); ++w) {
        const auto& t = totals.workloads[w];
        const std::uint64_t target = w < view.targets.size() ? view.targets[w] : 0;
        target_total += target;
        const auto quantiles = [](const metrics::latency_snapshot& h) {
            return json{{"count", h.count()},
                        {"p50", h.quantile(0.5)},
                        {"p90", h.quantile(0.9)},
                        {"p99", h.quantile(0.99)},
                        {"p999", h.quantile(0.999)}};
        };
        const bool io = is_io_workload(cfg.workloads[w].kind);
        json latency = json::object();
        for (const metrics::latency_source s : metrics::all_latency_sources) {
            if (s == metrics::latency_source::io && !io) continue;
            latency[std::string(metrics::to_string(s))] = quantiles(t.latency[static_cast<std::size_t>(s)]);
        }
        json completed = json::object();
        for (const metrics::task_outcome o : metrics::all_task_outcomes) {
            completed[std::string(metrics::to_string(o))] = t.completed[static_cast<std::size_t>(o)];
        }
        workloads[workload_names[w]] = {
            {"kind", config::to_string(cfg.workloads[w].kind)},
            {"weight", cfg.workloads[w].weight},
            {"live", t.live},
            {"target", target},
            // What whole units make of the target: less when a ring or tree does not divide it.
            {"effective_target", unit_fit{target, parts.tasks_per_unit(w)}.effective()},
            {"spawned", t.spawned},
            {"completed", completed},
            {"resumes", t.resumes},
            {"frame_bytes", t.frame_bytes},
            {"latency_seconds", latency},
        };
        if (io) {
            workloads[workload_names[w]]["connections"] = t.connections;
            workloads[workload_names[w]]["round_trip_seconds"] = quantiles(t.round_trip);
        }
    }
    return json{
        {"version", COROSTORM_VERSION},
        {"state", in.state},
        {"uptime_seconds", in.uptime_seconds},
        {"config",
         {{"threads", parts.threads()},
          {"engine", config::to_string(cfg.runtime.engine)},
          {"layout", config::to_string(cfg.runtime.layout)},
          {"sample_every", cfg.latency.sample_every},
          {"stages", cfg.scenario.stages.size()},
          {"repeat", cfg.scenario.repeat},
          {"file", in.file.empty() ? json(nullptr) : json(in.file)},
          {"reloads",
           {{"success", in.reloads.success.load(std::memory_order_relaxed)},
            {"failure", in.reloads.failure.load(std::memory_order_relaxed)}}},
          {"restart_needed", in.restart_needed}}},
        {"stage", view.stage},
        {"stage_state", in.guard != nullptr && in.guard->state().capped ? "capped" : "running"},
        {"tasks", {{"live", totals.live}, {"target", target_total}}},
        {"memory_per_task_bytes", memory_json(in, mem)},
        {"memory_guard", guard_json(in)},
        {"descriptors", descriptors_json(in)},
        {"workloads", workloads},
    };
}

}  // namespace corostorm::daemon
