// The standard process_* metric families, named as the official Prometheus client
// libraries name them, so dashboards and alerts written for any process work here:
// process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_start_time_seconds and process_threads.
//
// Values are read from /proc when Prometheus scrapes, never in between; the collector
// holds no state. A value the kernel cannot provide is exported as 0.
//
// Cost: one read_process_stats() a scrape (a few small /proc reads, plus a walk over
// /proc/self/fd that is O(open descriptors)), and seven small metric families.
// Thread-safety: Collect() may run on any thread, concurrently with itself.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

namespace corostorm::metrics {

class process_collector final : public prometheus::Collectable {
public:
    std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace corostorm::metrics
