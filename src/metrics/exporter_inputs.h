// What the exporter and /status read from the command that runs them: the
// scenario's stage and targets now, and the config reload counts. Plain
// structs with no Prometheus, so the assembly (daemon/assembly.h), /status
// and prove can name them without seeing metrics/exporter.h.
//
// Design note. Cost: none at rest; a scenario_view is built per scrape or
// /status request by the function its owner hands the exporter.
// Thread-safety: reload_counts is written by the daemon when a reload ends
// and read at scrape time from any thread, through relaxed atomics (counters,
// not a handshake). Lifetime: the daemon owns its reload_counts and keeps it
// alive longer than the exporter that points at it.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace corostorm::metrics {

// What the scenario says right now (provided by the daemon).
struct scenario_view {
    std::string stage;
    std::vector<std::uint64_t> targets;  // per workload, total across workers
};

// Config reloads by result, counted by the daemon and read at scrape time.
// The last attempt's result follows Prometheus's own convention
// (prometheus_config_last_reload_successful): an alert on it stays firing while the bad
// file stays in place, where one on the failure counter ages out.
struct reload_counts {
    std::atomic<std::uint64_t> success{0};
    std::atomic<std::uint64_t> failure{0};
    // The config loaded at start counts as a successful load.
    std::atomic<bool> last_successful{true};
    std::atomic<double> last_success_unix_seconds{0};
};

}  // namespace corostorm::metrics
