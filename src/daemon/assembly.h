// The parts every way of running corostorm builds from a config, wired the
// same way for the daemon (`run`) and for the one-shot `prove`: one task
// factory per workload for the configured engine, the worker pool over them,
// the memory baselines and the runtime exporter over the pool's shards.
//
// Design note (order and lifetime). The constructor builds the factories,
// then the pool (not started), then reads the resident and heap baselines, so
// they are taken after the pool's own allocations and before the first spawn:
// memory per task then measures tasks, not the runtime. Start the pool with
// pool().start() when ready. The assembly owns everything it builds; the pool
// is stopped (drained for 0 s, i.e. aborted) at the latest when the assembly
// is destroyed, before the factories its workers call go away.
// Thread-safety: construct, start and stop from one control thread; totals(),
// memory_per_task() and the exporter read lock-free shards from any thread.
// Cost: totals() is O(workers x workloads x buckets), never O(tasks).
// This header includes no Prometheus header (prove includes it): the exporter
// is held by pointer and only declared here.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "guard/fd_budget.h"
#include "metrics/exporter_inputs.h"
#include "metrics/probes.h"
#include "metrics/recorder.h"
#include "metrics/totals.h"
#include "runtime/pool.h"
#include "runtime/task_factory.h"
#include "scenario/timeline.h"

namespace corostorm::metrics {
class runtime_exporter;  // metrics/exporter.h
}  // namespace corostorm::metrics

namespace corostorm::daemon {

// What a workload kind's factory reads: the assembly owns one per workload
// (the factories hold references to it), and a reload writes its tunable
// fields in place (defined in assembly.cpp; see workloads/workload.h).
struct workload_options;

// How many tasks of the target one unit of workload `w` stands for (a ring: its size).
std::uint64_t tasks_per_unit(const config::workload_config& w);

// The config's scenario as a timeline starting at `start_ns`, its first
// stage ramping from `start_total` tasks.
scenario::timeline make_timeline(const config::config& cfg, std::uint64_t start_ns,
                                 std::uint64_t start_total = 0);

// Rings, trees and echo connections are spawned whole: a workload's share of a
// target is worth share / unit whole units, and a share below one unit runs nothing.
struct unit_fit {
    std::uint64_t share = 0;  // tasks: the workload's part of the target, by weight
    std::uint64_t unit = 1;   // tasks one unit stands for (task_factory::tasks_per_unit)
    std::uint64_t effective() const noexcept { return share / unit * unit; }
    bool starved() const noexcept { return share > 0 && share < unit; }
};
// One line for the log and check-config: the workload, the stage, its share, the unit
// and what to change.
std::string describe_starved(const config::workload_config& w, std::size_t index, std::string_view stage,
                             const unit_fit& fit);
// Every stage's starved workloads in `cfg`, as describe_starved lines.
std::vector<std::string> starved_workloads(const config::config& cfg);

// echo and rpc: the workloads whose tasks do socket I/O.
bool is_io_workload(config::workload_kind kind) noexcept;

// runtime.threads, or the CPUs the process may use when it is 0.
unsigned worker_threads(const config::config& cfg);
// A warning when runtime.threads asks for more workers than the CPUs the
// process may use (`cpus`), else empty: for the start-up log and check-config.
std::string oversubscribed_threads(const config::config& cfg, unsigned cpus);

// How long stopping the pool may drain its tasks before the stragglers are
// destroyed: run's drain on SIGTERM, prove's at the end of its run.
inline constexpr std::chrono::seconds drain_timeout{30};

class assembly {
public:
    // `scenario` tells the exporter the current stage and targets (may be
    // empty); `memory_limit` is the limit the memory guard enforces, if any.
    assembly(const config::config& cfg, std::function<metrics::scenario_view()> scenario,
             std::optional<std::uint64_t> memory_limit = std::nullopt,
             const metrics::reload_counts* reloads = nullptr);
    ~assembly();  // out of line: the exporter's type is complete only there
    assembly(const assembly&) = delete;
    assembly& operator=(const assembly&) = delete;

    unsigned threads() const noexcept { return pool_->size(); }
    // Control thread: new parameters for the workloads (same count, names and
    // kinds as built); tasks see them at their next wake-up or yield.
    void retune(const std::vector<config::workload_config>& workloads);
    runtime::pool& pool() noexcept { return *pool_; }
    const runtime::pool& pool() const noexcept { return *pool_; }
    const std::vector<std::string>& workload_names() const noexcept { return workload_names_; }
    // How many tasks of the target one unit of workload `w` stands for (a ring: its size).
    std::uint64_t tasks_per_unit(std::size_t w) const noexcept { return factories_[w]->tasks_per_unit(); }
    // False for the asio engine, whose frames the runtime cannot count.
    bool frame_bytes_exact() const noexcept { return frame_bytes_exact_; }

    std::uint64_t rss_baseline() const noexcept { return rss_baseline_; }
    std::uint64_t heap_baseline() const noexcept { return heap_baseline_; }

    std::vector<const metrics::worker_shard*> shards() const;
    // The workers' shards summed, as the exporter sees them.
    metrics::runtime_totals totals() const;
    // Memory per task against the baselines; nullopt with no live task.
    std::optional<metrics::memory_per_task> memory_per_task(const metrics::runtime_totals& totals) const;

    // Declared only here: a caller that registers or serialises it includes metrics/exporter.h.
    const metrics::runtime_exporter& exporter() const noexcept { return *exporter_; }
    // The descriptor budget (see guard/fd_budget.h): planned when the
    // assembly is built, after RLIMIT_NOFILE was raised, and applied to
    // every worker as its descriptor ceiling when the config has echo units.
    const guard::fd_plan& fd_plan() const noexcept { return fd_plan_; }

private:
    // Declared before the factories, which read them: destroyed after.
    std::vector<std::unique_ptr<workload_options>> options_;
    std::vector<std::unique_ptr<runtime::task_factory>> factories_;
    std::vector<std::string> workload_names_;
    std::unique_ptr<runtime::pool> pool_;
    bool frame_bytes_exact_ = true;
    std::uint64_t rss_baseline_ = 0;
    std::uint64_t heap_baseline_ = 0;
    std::optional<metrics::kernel_memory> kernel_baseline_;
    std::unique_ptr<metrics::runtime_exporter> exporter_;
    guard::fd_plan fd_plan_;
};

}  // namespace corostorm::daemon
