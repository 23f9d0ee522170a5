// Totals over every worker's recording shard, and memory per task against the
// baselines: the numbers the exporter exports, /status shows and `prove`
// reports. Plain structs and two functions; nothing of Prometheus, so a reader
// of the totals (prove's report) does not compile or link prometheus-cpp.
//
// Design note. sum_shards reads the shards the workers write lock-free
// (metrics/recorder.h): it may run on any thread, concurrently with the
// workers, and costs O(workers x workloads x buckets), never O(tasks).
// measure_memory_per_task reads the process's resident and heap bytes now
// (metrics/probes.h) and divides their growth since the baselines by the
// live tasks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "metrics/probes.h"
#include "metrics/recorder.h"

namespace corostorm::metrics {

// Totals over all workers, the same numbers Collect() exports; for /status and reports.
struct runtime_totals {
    struct per_workload {
        std::uint64_t live = 0;
        std::uint64_t spawned = 0;
        std::uint64_t resumes = 0;
        std::uint64_t frame_bytes = 0;
        std::array<std::uint64_t, task_outcome_count> completed{};
        std::array<latency_snapshot, latency_source_count> latency{};
        latency_snapshot round_trip;
        std::uint64_t round_trips = 0;
        std::uint64_t connections = 0;
    };
    std::vector<per_workload> workloads;
    std::uint64_t live = 0;
    std::uint64_t frame_bytes = 0;
    std::uint64_t spawn_failures = 0;
    std::uint64_t spawn_denied_memory = 0;
    std::uint64_t spawn_denied_fds = 0;
    std::uint64_t connections = 0;
    std::vector<double> busy_seconds;  // per worker
};
runtime_totals sum_shards(const std::vector<const worker_shard*>& shards, std::size_t workloads);

// Bytes grown since the baselines, by method (frame: the live frames' bytes),
// and the same per live task.
struct memory_per_task {
    double frame = 0;
    double heap = 0;
    double rss = 0;
    std::optional<double> kernel;  // nullopt: no baseline, or the source changed or cannot be read
    double frame_growth = 0;
    double heap_growth = 0;
    double rss_growth = 0;
    std::optional<double> kernel_growth;
};
// nullopt when no task is alive (there is nothing to divide by).
std::optional<memory_per_task> measure_memory_per_task(
    const runtime_totals& totals, std::uint64_t rss_baseline, std::uint64_t heap_baseline,
    std::optional<kernel_memory> kernel_baseline = std::nullopt);

}  // namespace corostorm::metrics
