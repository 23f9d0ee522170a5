// Test helper: a workload's figures summed over a pool's workers, read from the
// shards as the exporter reads them (any thread, values a few increments old).
#pragma once

#include <cstddef>
#include <cstdint>

#include "metrics/recorder.h"
#include "runtime/pool.h"

namespace corostorm::testing {

// get(shard) summed over the workers, for workload `workload`.
template <class Get>
std::uint64_t sum(const runtime::pool& p, Get get, std::size_t workload = 0) {
    std::uint64_t n = 0;
    for (unsigned i = 0; i < p.size(); ++i) n += get(p.at(i).shard().workload(workload));
    return n;
}

// Live tasks of workload `workload`, over all workers.
inline std::uint64_t live(const runtime::pool& p, std::size_t workload = 0) {
    return sum(
        p, [](const metrics::workload_shard& s) { return s.live(); }, workload);
}

struct workload_totals {
    std::uint64_t live = 0, spawned = 0, ok = 0, error = 0, cancelled = 0, resumes = 0, connections = 0,
                  round_trips = 0, io_wakeups = 0, denied_fds = 0;
};

// Every figure of workload `workload` at once (denied_fds: the workers' spawns refused for descriptors).
inline workload_totals totals(const runtime::pool& p, std::size_t workload = 0) {
    workload_totals t;
    for (unsigned i = 0; i < p.size(); ++i) {
        const auto& s = p.at(i).shard().workload(workload);
        t.live += s.live();
        t.spawned += s.spawned.read();
        t.ok += s.completed[static_cast<std::size_t>(metrics::task_outcome::ok)].read();
        t.error += s.completed[static_cast<std::size_t>(metrics::task_outcome::error)].read();
        t.cancelled += s.completed[static_cast<std::size_t>(metrics::task_outcome::cancelled)].read();
        t.resumes += s.resumes.read();
        t.connections += s.connections.read();
        metrics::latency_snapshot rt;
        rt.add(s.round_trip);
        t.round_trips += rt.count();
        metrics::latency_snapshot io;
        io.add(s.latency[static_cast<std::size_t>(metrics::latency_source::io)]);
        t.io_wakeups += io.count();
        t.denied_fds += p.at(i).shard().spawn_denied_fds.read();
    }
    return t;
}

}  // namespace corostorm::testing
