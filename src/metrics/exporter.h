// The runtime exporter: turns the workers' recording shards into Prometheus
// metric families at scrape time.
//
// Design note. Nothing is pushed into prometheus-cpp objects while tasks run
// (its Histogram takes a mutex per Observe, its Gauge is one shared atomic).
// Instead Collect() walks every worker's shard and sums per workload
// (sum_shards, metrics/totals.h): the cost of a scrape is
// O(workers x workloads x buckets) whatever the number of tasks, and it never
// blocks a worker. Memory per task (measure_memory_per_task, the same header)
// is exported from three independent sources so a reader can cross-check them:
//   frame: exact bytes of live coroutine frames / live tasks (lean engine);
//   heap:  (allocator bytes in use now - at baseline) / live tasks;
//   rss:   (resident bytes now - at baseline) / live tasks;
// the baselines are taken before the first spawn.
// Thread-safety: Collect() may run on any thread, concurrently with workers.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <functional>
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "metrics/exporter_inputs.h"
#include "metrics/probes.h"
#include "metrics/recorder.h"
#include "metrics/totals.h"

namespace corostorm::metrics {

struct exporter_source {
    std::string version;
    // The git commit the binary was built from (build_revision()), "unknown" when not known.
    std::string revision = "unknown";
    std::string engine;
    // False for engines whose frames the runtime cannot count (asio): then
    // neither frame bytes nor memory_per_task{method="frame"} is exported.
    bool frame_bytes_exact = true;
    std::vector<std::string> workloads;
    // Per workload: true for the I/O workloads (echo, rpc), whose connections,
    // round trips and io latency are exported.
    std::vector<bool> io_workloads;
    std::vector<const worker_shard*> shards;  // stable for the exporter's lifetime
    std::uint64_t rss_baseline_bytes = 0;
    std::uint64_t heap_baseline_bytes = 0;
    // The kernel's memory before the first spawn (read_kernel_memory); without
    // it, method="kernel" is not exported.
    std::optional<kernel_memory> kernel_baseline;
    std::function<scenario_view()> scenario;
    // The limit the memory guard enforces; exported as corostorm_memory_limit_bytes.
    std::optional<std::uint64_t> memory_limit_bytes;
    // Config reloads (SIGHUP), owned by the daemon; null: not exported.
    const reload_counts* reloads = nullptr;
};

class runtime_exporter final : public prometheus::Collectable {
public:
    explicit runtime_exporter(exporter_source source) : source_(std::move(source)) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

private:
    exporter_source source_;
};

// The HTTP server's own counters, read at scrape time: what an operator looks at
// when scrapes fail (refused, evicted, erroring).
struct http_totals {
    struct requests {
        std::string path;  // a route, or "other"
        unsigned code = 0;
        std::uint64_t count = 0;
    };
    std::vector<requests> answered;
    std::uint64_t connections_open = 0;
    std::uint64_t connections_evicted = 0;
    std::uint64_t internal_errors = 0;
};

// corostorm_http_requests_total{path,code}, corostorm_http_connections_open,
// corostorm_http_connections_evicted_total, corostorm_http_internal_errors_total.
class http_exporter final : public prometheus::Collectable {
public:
    explicit http_exporter(std::function<http_totals()> read) : read_(std::move(read)) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

private:
    std::function<http_totals()> read_;
};

// Every registered collector serialised in the Prometheus text format 0.0.4.
std::string serialize(const std::vector<const prometheus::Collectable*>& collectables);

}  // namespace corostorm::metrics
