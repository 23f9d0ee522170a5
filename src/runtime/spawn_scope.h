// The spawn scope of one worker: every task is started and finished through
// it, so it always knows how many tasks of each workload are alive, how they
// ended, and when the worker has drained.
//
// Two counts per workload: tasks (every coroutine, what tasks_live exports)
// and units (the tasks the target is made of: plain tasks, ring leaders,
// tree roots; see task_env::root). The worker spawns and retires units; the
// helpers a unit spawns live and die with it.
// The scope keeps plain counts for the worker's own decisions and mirrors
// every event into the worker's metrics shard for the exporter. Failures (an
// exception escaping a task) arrive here as outcome `error`.
// Thread-safety: owner thread only (the shard it writes is readable anywhere).
// Cost: a handful of plain stores per spawn and per completion.
#pragma once

#include <cstdint>
#include <vector>

#include "metrics/recorder.h"
#include "runtime/task.h"

namespace corostorm::runtime {

class spawn_scope {
public:
    explicit spawn_scope(metrics::worker_shard& shard)
        : shard_(shard), live_(shard.workload_count, 0), units_(shard.workload_count, 0) {}

    void on_started(task_env env, std::uint32_t frame_bytes) noexcept {
        ++live_[env.workload];
        ++live_total_;
        if (env.root) ++units_[env.workload];
        auto& w = shard_.workload(env.workload);
        w.spawned.add(1);
        w.frame_bytes.add(frame_bytes);
    }

    void on_finished(task_env env, std::uint32_t frame_bytes, metrics::task_outcome outcome) noexcept {
        --live_[env.workload];
        --live_total_;
        if (env.root) --units_[env.workload];
        auto& w = shard_.workload(env.workload);
        w.frame_bytes.sub(frame_bytes);
        w.completed[static_cast<std::size_t>(outcome)].add(1);
    }

    std::uint64_t live(std::uint32_t workload) const noexcept { return live_[workload]; }
    std::uint64_t units(std::uint32_t workload) const noexcept { return units_[workload]; }
    std::uint64_t live_total() const noexcept { return live_total_; }
    bool drained() const noexcept { return live_total_ == 0; }

private:
    metrics::worker_shard& shard_;
    std::vector<std::uint64_t> live_;
    std::vector<std::uint64_t> units_;
    std::uint64_t live_total_ = 0;
};

}  // namespace corostorm::runtime
