// A target ramp: how many tasks of one workload should be alive at a given
// time. The scenario timeline makes them (one per workload and stage), the
// pool hands them to every worker, and each worker's control tick reads its
// share of them.
//
// Design note. A plain value of four integers: copied freely, never shared
// by reference between threads (set_targets hands each worker its own copy),
// so it needs no synchronisation and outlives nothing. Cost: at() is a few
// arithmetic operations, no allocation and no clock read (the caller passes
// the time); the worker calls it once per workload per control tick.
#pragma once

#include <cstdint>

namespace corostorm::runtime {

// A straight line from `from` tasks at start_ns to `to` tasks at
// start_ns + over_ns, flat afterwards.
struct target_ramp {
    std::uint64_t from = 0;
    std::uint64_t to = 0;
    std::uint64_t start_ns = 0;
    std::uint64_t over_ns = 0;

    std::uint64_t at(std::uint64_t now_ns) const noexcept;
};

}  // namespace corostorm::runtime
