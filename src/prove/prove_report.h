// The report of `corostorm prove`: the figures of one run and the machine it
// ran on, rendered as a table for people or as one JSON object for scripts.
// The JSON keys are a stable interface, documented in docs/prove.md;
// a figure that does not exist (no sample, nothing measured) is null, never
// NaN. Pure formatting: no probes are read here except in machine_facts::probe().
// With --against-go the report also holds the Go peer's (bench/peers/go),
// parsed from the JSON it printed: the table then has a `go` column, the JSON
// a "go" object.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "metrics/recorder.h"
#include "metrics/totals.h"

namespace corostorm::prove {

struct machine_facts {
    std::string cpu_model;  // "" when the kernel does not say
    unsigned cpus = 0;      // available to this process (affinity, cgroup quota)
    std::uint64_t memory_bytes = 0;
    std::string kernel;
    std::string compiler;
    std::string boost;
    std::string corostorm;

    static machine_facts probe();
};

// Quantiles of one latency source over a window. `max` is the upper bound of
// the highest non-empty bucket (the histogram keeps no exact maximum).
struct latency_summary {
    std::string source;  // timer, ready
    std::uint64_t count = 0;
    double p50 = 0;
    double p90 = 0;
    double p99 = 0;
    double p999 = 0;
    double max = 0;
    bool max_overflows = false;  // the highest sample is beyond the last finite bucket
};

// `after - before`, bucket by bucket: the samples recorded in between.
metrics::latency_snapshot difference(const metrics::latency_snapshot& after,
                                     const metrics::latency_snapshot& before);
// nullopt when the snapshot holds no sample.
std::optional<latency_summary> summarize(std::string source, const metrics::latency_snapshot& s);

struct prove_report;

// What the Go peer's run gave: its report, or why there is none.
struct go_side {
    std::shared_ptr<const prove_report> report;  // null when the peer printed no report
    nlohmann::json json;                         // the object it printed (null when none)
    std::string error;                           // why there is no report, or why it did not complete
    int exit_code = 0;
};

struct prove_report {
    bool reached = false;
    std::optional<std::string> reason;  // why the run is not complete; empty when it is
    std::uint64_t target = 0;
    std::uint64_t tasks = 0;       // what the target counts, when the run stopped spawning
    std::uint64_t live_tasks = 0;  // tasks alive when memory was measured
    bool counts_spawned = false;   // spawn_tree: the target counts tasks spawned, not alive
    std::string workload;
    std::string engine;
    std::string layout;
    unsigned threads = 0;
    std::optional<double> time_to_target_seconds;
    std::optional<double> spawn_rate_per_second;
    std::optional<metrics::memory_per_task> memory;  // per live task
    bool frame_exact = true;                         // frame bytes exist (lean engine)
    std::optional<double> measure_seconds;           // the window after reaching the target
    std::optional<double> resumes_per_second;
    std::vector<latency_summary> latency;  // sources with samples in the window
    // echo and rpc: connections open at the end of the window, and the round
    // trips (message sent to reply received) recorded in it; 0 and nullopt
    // for the other workloads.
    std::uint64_t connections = 0;
    std::optional<latency_summary> io_round_trip;
    std::optional<double> round_trips_per_second;
    double cpu_seconds = 0;  // process user + system, spawning and window
    // Over the window only: process CPU time, and that divided by its resumes.
    std::optional<double> measure_cpu_seconds;
    std::optional<double> cpu_ns_per_resume;
    // spawn_tree: the window / the trees' worth of nodes that finished in it
    // (every node but the root finishes once per tree), i.e. 1 / trees per second.
    std::optional<double> seconds_per_tree;
    std::uint64_t peak_resident_bytes = 0;  // VmHWM at the end of the window (or the stop)
    machine_facts machine;
    std::optional<go_side> go;  // --against-go
};

nlohmann::json to_json(const prove_report& r);
// The table; counts grouped by thousands, latencies in us/ms/s. With a Go
// report: one column per side and their ratio.
std::string to_table(const prove_report& r);

// A report read back from its JSON (the Go peer's); throws
// nlohmann::json::exception when a documented key is missing or mistyped.
prove_report report_from_json(const nlohmann::json& j);

}  // namespace corostorm::prove
