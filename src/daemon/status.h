// The daemon's /status page: one JSON object for people and scripts (the
// fields are listed in docs/metrics.md): version, config summary, stage, live
// and target tasks, memory per task, the memory guard, the descriptor budget
// and, per workload, its counts and latency quantiles.
//
// Design note. The daemon gathers the inputs on the server's thread, taking
// its own locks for the config and the scenario and copying what they guard;
// status_json() then only reads: the assembly's lock-free shards (totals,
// memory per task), the guard's state and the reload counters, all safe from
// any thread. Cost: O(workers x workloads x buckets), as a scrape.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"
#include "daemon/assembly.h"
#include "guard/fd_budget.h"
#include "guard/memory_guard.h"
#include "metrics/exporter_inputs.h"

namespace corostorm::daemon {

// What /status shows, as the daemon holds it. The references must outlive the call.
struct status_inputs {
    const config::config& cfg;                       // copied under the daemon's config lock
    const std::string& file;                         // the config file; empty: built-in defaults
    const std::vector<std::string>& restart_needed;  // keys the last reload could not apply
    const assembly& parts;
    const metrics::scenario_view& view;  // the stage and its targets now
    const metrics::reload_counts& reloads;
    const guard::memory_limit& memory_limit;
    const guard::memory_guard* guard;   // null with memory.limit: none
    const guard::fd_demand& fd_demand;  // what the current stage asks of the descriptor budget
    const char* state = "";             // starting, running or draining
    double uptime_seconds = 0;          // since the pool started; 0 before
};

nlohmann::json status_json(const status_inputs& in);

}  // namespace corostorm::daemon
