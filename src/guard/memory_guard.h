// The memory guard: keeps the process below its memory limit by holding
// spawning back. It never kills a task: what is alive stays alive.
//
// Design note. The limit comes from memory.limit: `auto` takes the cgroup's
// (v2 memory.max, v1 memory.limit_in_bytes) or, when the cgroup sets none,
// the machine's memory; a size is taken as given; `none` lifts the memory
// bound (a finite ulimit -v stays, see below). Usage is measured the way that limit bites: the cgroup's
// working set (what its OOM killer sees), the memory the whole machine uses, or this process's resident set
// for a configured size. Spawning stops at limit - headroom (the threshold). Every refresh (every 10 ms, on
// the daemon's control thread) turns the room left below the threshold into tasks, at the bytes one task has
// cost so far (resident growth / live tasks; a conservative default until enough tasks exist to measure), and
// gives each worker a ceiling: its live tasks plus its share of that room. A worker compares its live count
// with its ceiling once per control turn, so the spawn path never reads /proc, and between two refreshes a
// worker can at most fill the room it was given. Memory that tasks gave back mostly stays with the process
// (free frames in the slabs, free blocks in malloc), so usage does not fall when tasks retire. A worker's
// ceiling is therefore never below the most tasks it has held: their memory can be had again without new
// memory, and spawning resumes after a stage lowered the target. An episode starts when a worker is held back
// (logged once, as a warning) and ends after a second without any (logged once). With a finite RLIMIT_AS
// (ulimit -v) the mapped bytes are a second bound with the same headroom: the room is the smaller of the two.
// Thread-safety: refresh() on one thread; state() and describe_bound() from any thread.
// Cost: one refresh reads two to four small files (~10-20 us).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "runtime/pool.h"

namespace corostorm::guard {

enum class limit_source { none, cgroup, machine, config };
std::string_view to_string(limit_source s) noexcept;

struct memory_limit {
    limit_source source = limit_source::none;
    std::uint64_t limit_bytes = 0;
    std::uint64_t headroom_bytes = 0;
    // RLIMIT_AS (ulimit -v) when it is finite, 0 otherwise: a second bound, on the
    // address space, kept also with memory.limit: none. Thread stacks and malloc arenas
    // count there in full, so it can bite long before the memory limit does; the same
    // headroom applies to it.
    std::uint64_t address_space_bytes = 0;
    std::uint64_t address_space_headroom_bytes = 0;
    std::uint64_t threshold_bytes() const noexcept {
        return limit_bytes > headroom_bytes ? limit_bytes - headroom_bytes : 0;
    }
    std::uint64_t address_space_threshold_bytes() const noexcept {
        return address_space_bytes > address_space_headroom_bytes
                   ? address_space_bytes - address_space_headroom_bytes
                   : 0;
    }
    // The guard runs when either bound is set: memory.limit: none leaves ulimit -v's.
    bool active() const noexcept { return bounds_memory() || address_space_bytes > 0; }
    bool bounds_memory() const noexcept { return source != limit_source::none; }
};

// memory.limit and memory.headroom on this machine: `cgroup_limit` is the
// process's cgroup memory limit if it has one, `machine_bytes` MemTotal,
// `address_space` RLIMIT_AS's soft limit if it is finite.
memory_limit resolve_memory_limit(const config::memory_config& cfg, std::optional<std::uint64_t> cgroup_limit,
                                  std::uint64_t machine_bytes,
                                  std::optional<std::uint64_t> address_space = std::nullopt);
// The same, with the limits read from this process and machine.
memory_limit resolve_memory_limit(const config::memory_config& cfg);
// Why a resolved limit leaves no room at all (headroom at or above the limit it keeps
// free: memory.limit auto on a small cgroup, or ulimit -v), naming the keys and what
// to change; nullopt when it is usable. Checked for explicit sizes by the config loader,
// for these at start-up.
std::optional<std::string> no_room_problem(const memory_limit& limit, const config::memory_config& cfg);

// Bytes in use as `source` counts them; nullopt when they cannot be read.
using usage_probe = std::function<std::optional<std::uint64_t>()>;
usage_probe usage_probe_for(limit_source source);

struct guard_state {
    std::uint64_t usage_bytes = 0;     // at the last refresh
    std::uint64_t bytes_per_task = 0;  // the estimate the last refresh used
    bool capped = false;               // in an episode: spawning held back
    bool address_space_binds = false;  // the address-space bound left less room than the limit
    std::uint64_t episodes = 0;
};

class memory_guard {
public:
    static constexpr std::uint64_t refresh_period_ns = 10'000'000;
    // Before `measure_after_tasks` tasks are alive, a task is taken to cost
    // `default_task_bytes` (more than any engine's task measured so far).
    static constexpr std::uint64_t measure_after_tasks = 10'000;
    static constexpr std::uint64_t default_task_bytes = 2048;
    static constexpr std::uint64_t episode_quiet_ns = 1'000'000'000;

    // `resident` reads this process's resident bytes; `rss_baseline` is its
    // value before the first spawn (the bytes-per-task estimate is the growth).
    // `address_space` reads the mapped bytes (VmSize); used when the limit has an
    // address-space bound.
    memory_guard(memory_limit limit, usage_probe usage, std::function<std::uint64_t()> resident,
                 std::uint64_t rss_baseline, runtime::pool& pool, usage_probe address_space = {});
    // With this process's probes; null when `limit` is not active.
    static std::unique_ptr<memory_guard> for_process(const memory_limit& limit, std::uint64_t rss_baseline,
                                                     runtime::pool& pool);

    // Control thread: measure and hand every worker its ceiling.
    void refresh(std::uint64_t now_ns);

    guard_state state() const noexcept;
    // The bound that holds spawning back, for logs and reports: "the address space
    // (ulimit -v) of 97.7 MiB less 9.8 MiB headroom" or "461.0 MiB in use (cgroup) of a
    // 512.0 MiB limit less 51.2 MiB headroom".
    std::string describe_bound(const guard_state& state) const;

private:
    const memory_limit limit_;
    const usage_probe usage_;
    const usage_probe address_space_;
    const std::function<std::uint64_t()> resident_;
    const std::uint64_t rss_baseline_;
    runtime::pool& pool_;

    std::vector<std::uint64_t> high_water_;  // per worker: most live tasks seen
    std::uint64_t denied_seen_ = 0;
    std::uint64_t last_denial_ns_ = 0;
    bool probe_failed_ = false;

    // Written by refresh(), read by state() from any thread.
    std::atomic<std::uint64_t> usage_bytes_{0};
    std::atomic<std::uint64_t> bytes_per_task_{default_task_bytes};
    std::atomic<bool> capped_{false};
    std::atomic<bool> address_space_binds_{false};
    std::atomic<std::uint64_t> episodes_{0};
};

}  // namespace corostorm::guard
