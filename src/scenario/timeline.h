// The scenario timeline: which stage is active at a given time, and the task
// target ramp of every workload during it.
//
// Design note. Stages run one after another, each for its `over` duration.
// A stage with `tasks` ramps the total target linearly from where the
// previous stage left it to `tasks` over the stage; a stage without `tasks`
// holds the previous target. A stage's total is split between workloads by
// weight (largest remainder, so the parts always add up to the total) and each
// workload ramps from its old share to its new one. After the last stage the
// timeline either starts again from the first (repeat) or stays finished with
// the last targets in force. The timeline is pure computation: the daemon
// feeds it the clock and hands its ramps to the runtime pool.
// Thread-safety: none (the daemon's control thread owns it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/target_ramp.h"

namespace corostorm::scenario {

struct stage {
    std::string name;
    std::optional<std::uint64_t> tasks;  // empty: keep the previous target
    std::uint64_t over_ns = 0;
};

// Splits `total` by `weights` (all > 0) so that the parts sum to `total`.
std::vector<std::uint64_t> split_by_weight(std::uint64_t total, const std::vector<double>& weights);

class timeline {
public:
    // The first stage ramps from `start_total` tasks: 0 at start-up, the
    // target in force when a reload brings a new scenario.
    timeline(std::vector<stage> stages, bool repeat, std::vector<double> weights, std::uint64_t start_ns,
             std::uint64_t start_total = 0);

    // Moves to the stage active at `now_ns`. Returns true when the stage
    // changed since the last call (the first call always returns true).
    bool advance(std::uint64_t now_ns);

    std::size_t stage_index() const noexcept { return index_; }
    const stage& current() const noexcept { return stages_[index_]; }
    bool finished() const noexcept { return finished_; }
    std::uint64_t cycle() const noexcept { return cycle_; }
    // When the current stage ends; nullopt once finished.
    std::optional<std::uint64_t> stage_end_ns() const noexcept;

    // One ramp per workload for the current stage (totals across workers).
    const std::vector<runtime::target_ramp>& ramps() const noexcept { return ramps_; }
    // The total target (all workloads) at `now_ns`.
    std::uint64_t total_target_at(std::uint64_t now_ns) const noexcept;

private:
    void enter(std::size_t index, std::uint64_t start_ns);

    std::vector<stage> stages_;
    bool repeat_;
    std::vector<double> weights_;
    std::size_t index_ = 0;
    std::uint64_t stage_start_ns_;
    std::uint64_t cycle_ = 0;
    std::uint64_t previous_total_ = 0;  // target the current stage ramps from
    bool finished_ = false;
    bool started_ = false;
    std::vector<runtime::target_ramp> ramps_;
};

}  // namespace corostorm::scenario
