// File descriptors as a resource like memory: how many the process may hold,
// how many the echo workload's units may take, and what a target that asks
// for more is capped to.
//
// Design note. An echo unit holds two descriptors (its connection's two ends,
// both in this process); nothing else a task does takes one. At start the
// daemon raises RLIMIT_NOFILE's soft limit to the hard one (the kernel's
// default soft limit of 1024 would otherwise cap echo near 500 connections),
// counts the descriptors already open, and reserves what the process needs
// besides units: the HTTP server's connections, the workloads' listeners and
// rpc's shared connections, and some slack for /proc and cgroup reads. What
// is left is the unit budget, split evenly over the workers as their
// descriptor ceilings (worker::set_fd_ceiling): a worker spawns an echo unit
// only while its units' descriptors stay within its share, so the process
// never reaches EMFILE on the way up, and a target that asks for more is
// capped (counted in spawn_denied_total{reason="fds"}) rather than failing
// connections one by one.
// Thread-safety: plain values and functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"

namespace corostorm::guard {

struct fd_limits {
    std::uint64_t soft = 0;  // after raising
    std::uint64_t hard = 0;
    std::uint64_t before = 0;  // the soft limit the process started with
};
// Raises the soft RLIMIT_NOFILE to the hard limit (nothing else can raise it
// without privileges) and returns the limits. A failure leaves them as found.
fd_limits raise_fd_limit() noexcept;

struct fd_plan {
    fd_limits limits;
    std::uint64_t open_at_start = 0;   // descriptors open before the first spawn
    std::uint64_t reserved = 0;        // HTTP connections, listeners, rpc connections, slack
    std::uint64_t infrastructure = 0;  // of which the workloads' listeners and rpc connections
    std::uint64_t unit_budget = 0;     // what echo units may hold in all
    unsigned threads = 1;

    // Each worker's descriptor ceiling.
    std::uint64_t per_worker() const noexcept { return unit_budget / threads; }
    // The most echo connections the budget holds (two descriptors each).
    std::uint64_t max_connections() const noexcept { return per_worker() / 2 * threads; }
};

// HTTP connections the server keeps at most, plus slack for the files the
// process reads while it runs (/proc, cgroup files, the config on reload).
inline constexpr std::uint64_t fd_slack = 256 + 64;

fd_plan plan_fds(const config::config& cfg, unsigned threads, fd_limits limits, std::uint64_t open_at_start);

// What the echo workloads of a target (tasks per workload, as the stages
// give them) ask of the budget.
struct fd_demand {
    std::uint64_t asked_connections = 0;
    std::uint64_t fits_connections = 0;
    bool capped() const noexcept { return asked_connections > fits_connections; }
};
fd_demand demand_of(const config::config& cfg, const std::vector<std::uint64_t>& targets,
                    const fd_plan& plan);

// The largest target any stage of the config asks for, per workload.
std::vector<std::uint64_t> peak_targets(const config::config& cfg);

// One line for logs, /status and check-config: what was asked, what fits,
// the limit, and how to raise it.
std::string describe_cap(const fd_demand& d, const fd_plan& plan);

}  // namespace corostorm::guard
