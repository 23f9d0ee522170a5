#include "metrics/process_collector.h"

#include "metrics/probes.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_type.h>

#include <string>
#include <utility>

namespace corostorm::metrics {
namespace {

// A family with one unlabelled sample. prometheus-cpp 1.0 writes family names
// verbatim (it adds no "_total" to counters), so the name is the exported one.
prometheus::MetricFamily single_sample(std::string name, std::string help, prometheus::MetricType type,
                                       double value) {
    prometheus::ClientMetric sample;
    if (type == prometheus::MetricType::Counter) {
        sample.counter.value = value;
    } else {
        sample.gauge.value = value;
    }
    return prometheus::MetricFamily{std::move(name), std::move(help), type, {std::move(sample)}};
}

}  // namespace

std::vector<prometheus::MetricFamily> process_collector::Collect() const {
    const process_stats stats = read_process_stats();
    using prometheus::MetricType;
    std::vector<prometheus::MetricFamily> families;
    families.reserve(7);
    families.push_back(
        single_sample("process_cpu_seconds_total",
                      "Total user and system CPU time spent in seconds. A rate of 1 means one CPU fully "
                      "busy; compare with corostorm_worker_busy_seconds_total to see time spent outside "
                      "the workers.",
                      MetricType::Counter, stats.cpu_seconds));
    families.push_back(
        single_sample("process_resident_memory_bytes",
                      "Resident memory size in bytes: pages of this process held in RAM, shared library "
                      "pages included.",
                      MetricType::Gauge, static_cast<double>(stats.resident_bytes)));
    families.push_back(
        single_sample("process_virtual_memory_bytes",
                      "Virtual memory size in bytes: address space reserved, most of it never touched. "
                      "Large values are normal; read process_resident_memory_bytes for memory used.",
                      MetricType::Gauge, static_cast<double>(stats.virtual_bytes)));
    families.push_back(single_sample("process_open_fds", "Number of open file descriptors.",
                                     MetricType::Gauge, static_cast<double>(stats.open_fds)));
    families.push_back(
        single_sample("process_max_fds",
                      "Maximum number of open file descriptors (the soft RLIMIT_NOFILE). Opening more "
                      "fails with EMFILE.",
                      MetricType::Gauge, static_cast<double>(stats.max_fds)));
    families.push_back(
        single_sample("process_start_time_seconds",
                      "Start time of the process since unix epoch in seconds. time() minus this is the "
                      "uptime; a change means the process restarted.",
                      MetricType::Gauge, stats.start_time_seconds));
    families.push_back(
        single_sample("process_threads",
                      "Number of OS threads in the process: the worker pool, the HTTP server and "
                      "helper threads, never one per task.",
                      MetricType::Gauge, static_cast<double>(stats.threads)));
    return families;
}

}  // namespace corostorm::metrics
