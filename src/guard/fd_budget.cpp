#include "guard/fd_budget.h"

#include <sys/resource.h>

#include <algorithm>
#include <fmt/format.h>

namespace corostorm::guard {

fd_limits raise_fd_limit() noexcept {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return {};
    fd_limits out{.soft = limit.rlim_cur, .hard = limit.rlim_max, .before = limit.rlim_cur};
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) out.soft = raised.rlim_cur;
    }
    return out;
}

fd_plan plan_fds(const config::config& cfg, unsigned threads, fd_limits limits, std::uint64_t open_at_start) {
    fd_plan plan{.limits = limits, .open_at_start = open_at_start, .threads = std::max(threads, 1u)};
    std::uint64_t infrastructure = 0;
    for (const auto& w : cfg.workloads) {
        if (w.kind == config::workload_kind::echo) infrastructure += 4ull * plan.threads;  // listeners
        if (w.kind == config::workload_kind::rpc) {
            // A listener per worker and both ends of every shared connection
            // (at least one per worker).
            infrastructure += plan.threads + 2 * std::max<std::uint64_t>(w.rpc.connections, plan.threads);
        }
    }
    plan.infrastructure = infrastructure;
    plan.reserved = infrastructure + fd_slack;
    const std::uint64_t used = open_at_start + plan.reserved;
    plan.unit_budget = limits.soft > used ? limits.soft - used : 0;
    return plan;
}

fd_demand demand_of(const config::config& cfg, const std::vector<std::uint64_t>& targets,
                    const fd_plan& plan) {
    fd_demand d;
    for (std::size_t w = 0; w < cfg.workloads.size() && w < targets.size(); ++w) {
        if (cfg.workloads[w].kind == config::workload_kind::echo) d.asked_connections += targets[w] / 2;
    }
    d.fits_connections = std::min(d.asked_connections, plan.max_connections());
    return d;
}

std::vector<std::uint64_t> peak_targets(const config::config& cfg) {
    double weights = 0;
    for (const auto& w : cfg.workloads) weights += w.weight;
    std::vector<std::uint64_t> peak(cfg.workloads.size(), 0);
    std::uint64_t total = 0;
    for (const auto& s : cfg.scenario.stages) {
        if (s.tasks) total = *s.tasks;
        for (std::size_t w = 0; w < cfg.workloads.size() && weights > 0; ++w) {
            const auto share =
                static_cast<std::uint64_t>(static_cast<double>(total) * cfg.workloads[w].weight / weights);
            peak[w] = std::max(peak[w], share);
        }
    }
    return peak;
}

std::string describe_cap(const fd_demand& d, const fd_plan& plan) {
    return fmt::format(
        "echo asks for {} connection(s) ({} descriptors) but {} fit: the descriptor limit is {} (hard limit "
        "{}), "
        "{} were open at start and {} are kept for the HTTP server, listeners and shared connections. "
        "Raise the hard limit (ulimit -Hn, docker run --ulimit nofile=N:N, systemd LimitNOFILE=N) or lower "
        "the "
        "target",
        d.asked_connections, 2 * d.asked_connections, d.fits_connections, plan.limits.soft, plan.limits.hard,
        plan.open_at_start, plan.reserved);
}

}  // namespace corostorm::guard
