// The memory guard on a real pool, with the memory in use played by a fake
// probe and the time passed in, so that every decision is deterministic.
#include "guard/memory_guard.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>

#include "runtime/awaiters.h"
#include "runtime/clock.h"
#include "runtime/pool.h"
#include "runtime/task_factory.h"
#include "support/totals.h"
#include "support/wait.h"

namespace corostorm::guard {
namespace {

using namespace std::chrono_literals;
constexpr std::uint64_t mib = 1024 * 1024;
constexpr std::uint64_t gib = 1024 * mib;
constexpr std::uint64_t second = 1'000'000'000;

config::memory_config memory(config::memory_limit_kind kind, std::uint64_t bytes = 0, double fraction = 0.10,
                             std::optional<std::uint64_t> headroom = std::nullopt) {
    config::memory_config m;
    m.limit = kind;
    m.limit_bytes = bytes;
    m.headroom_fraction = fraction;
    m.headroom_bytes = headroom;
    return m;
}

TEST(ResolveMemoryLimit, auto_takes_the_cgroup_limit_then_the_machine) {
    const auto cgroup =
        resolve_memory_limit(memory(config::memory_limit_kind::automatic), 512 * mib, 24 * gib);
    EXPECT_EQ(cgroup.source, limit_source::cgroup);
    EXPECT_EQ(cgroup.limit_bytes, 512 * mib);
    EXPECT_EQ(cgroup.headroom_bytes, 53687091u);  // 10%, rounded
    EXPECT_EQ(cgroup.threshold_bytes(), 512 * mib - 53687091u);

    const auto machine =
        resolve_memory_limit(memory(config::memory_limit_kind::automatic), std::nullopt, 24 * gib);
    EXPECT_EQ(machine.source, limit_source::machine);
    EXPECT_EQ(machine.limit_bytes, 24 * gib);

    EXPECT_FALSE(
        resolve_memory_limit(memory(config::memory_limit_kind::automatic), std::nullopt, 0).active());
}

TEST(ResolveMemoryLimit, a_size_is_taken_as_given_and_none_is_off) {
    const auto sized = resolve_memory_limit(memory(config::memory_limit_kind::bytes, 8 * gib, 0.10, 1 * gib),
                                            512 * mib, 24 * gib);
    EXPECT_EQ(sized.source, limit_source::config);
    EXPECT_EQ(sized.limit_bytes, 8 * gib);
    EXPECT_EQ(sized.headroom_bytes, 1 * gib);
    EXPECT_EQ(sized.threshold_bytes(), 7 * gib);

    const auto none = resolve_memory_limit(memory(config::memory_limit_kind::none), 512 * mib, 24 * gib);
    EXPECT_FALSE(none.active());
    EXPECT_EQ(to_string(none.source), "none");
}

TEST(ResolveMemoryLimit, headroom_larger_than_the_limit_leaves_no_room) {
    const auto tight = resolve_memory_limit(memory(config::memory_limit_kind::automatic, 0, 0.10, 1 * gib),
                                            256 * mib, 24 * gib);
    EXPECT_EQ(tight.headroom_bytes, 256 * mib);
    EXPECT_EQ(tight.threshold_bytes(), 0u);
}

TEST(ResolveMemoryLimit, an_address_space_limit_is_a_second_bound_with_the_same_headroom) {
    const auto fraction =
        resolve_memory_limit(memory(config::memory_limit_kind::automatic), std::nullopt, 24 * gib, 400 * mib);
    EXPECT_EQ(fraction.source, limit_source::machine);
    EXPECT_EQ(fraction.address_space_bytes, 400 * mib);
    EXPECT_EQ(fraction.address_space_headroom_bytes, 40 * mib);
    EXPECT_EQ(fraction.address_space_threshold_bytes(), 360 * mib);

    const auto sized = resolve_memory_limit(memory(config::memory_limit_kind::automatic, 0, 0.10, 64 * mib),
                                            std::nullopt, 24 * gib, 400 * mib);
    EXPECT_EQ(sized.address_space_threshold_bytes(), 336 * mib);

    const auto unlimited = resolve_memory_limit(memory(config::memory_limit_kind::automatic), std::nullopt,
                                                24 * gib, std::nullopt);
    EXPECT_EQ(unlimited.address_space_bytes, 0u);
}

TEST(NoRoomProblem, a_headroom_at_or_above_what_auto_resolves_to_is_named_with_the_fix) {
    const auto cfg = memory(config::memory_limit_kind::automatic, 0, 0.10, 30 * gib);
    const auto machine = resolve_memory_limit(cfg, std::nullopt, 24 * gib);
    ASSERT_TRUE(no_room_problem(machine, cfg));
    EXPECT_EQ(*no_room_problem(machine, cfg),
              "memory.headroom: 30GiB leaves no room below memory.limit auto: here that is the machine's "
              "memory (MemTotal), 24.0 GiB; give a smaller headroom (a size below it, or a percentage up to "
              "90%) or another memory.limit");
    const auto cgroup = resolve_memory_limit(cfg, 256 * mib, 24 * gib);
    ASSERT_TRUE(no_room_problem(cgroup, cfg));
    EXPECT_NE(no_room_problem(cgroup, cfg)->find("the cgroup's memory limit, 256.0 MiB"), std::string::npos);

    // ulimit -v below the headroom: the same mistake against the address space.
    const auto small = memory(config::memory_limit_kind::automatic, 0, 0.10, 300 * mib);
    const auto address_space = resolve_memory_limit(small, std::nullopt, 24 * gib, 200 * mib);
    ASSERT_TRUE(no_room_problem(address_space, small));
    EXPECT_NE(no_room_problem(address_space, small)->find("address-space limit (ulimit -v) of 200.0 MiB"),
              std::string::npos);

    // Room left, or no guard: nothing to say.
    EXPECT_FALSE(no_room_problem(resolve_memory_limit(small, std::nullopt, 24 * gib, 400 * mib), small));
    const auto none = memory(config::memory_limit_kind::none, 0, 0.10, 30 * gib);
    EXPECT_FALSE(no_room_problem(resolve_memory_limit(none, 256 * mib, 24 * gib), none));
}

// A sleeper that retires when its worker has too many.
runtime::task sleeper(runtime::task_env env) {
    for (;;) {
        co_await runtime::sleep_until{runtime::now_ns() + 20'000'000};
        if (runtime::this_worker().should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
    }
}
struct sleeper_factory final : runtime::task_factory {
    void spawn(runtime::task_env env, runtime::worker&) override { sleeper(env); }
};

using testing::live;
using testing::wait_for;

struct guarded_pool {
    // limit 100 MiB, headroom 10 MiB: threshold 90 MiB.
    memory_limit limit{limit_source::config, 100 * mib, 10 * mib};
    std::optional<std::uint64_t> usage = 0;
    std::uint64_t resident = 0;
    sleeper_factory factory;
    runtime::pool pool{2, {&factory}, {}};
    memory_guard guard{limit, [this] { return usage; }, [this] { return resident; }, 0, pool};
};

TEST(MemoryGuard, room_below_the_threshold_is_shared_between_workers_at_the_default_task_size) {
    guarded_pool g;
    g.usage = 10 * mib;
    g.guard.refresh(1);
    const std::uint64_t share = 80 * mib / memory_guard::default_task_bytes / 2;
    EXPECT_EQ(g.pool.at(0).task_ceiling(), share);
    EXPECT_EQ(g.pool.at(1).task_ceiling(), share);
    EXPECT_EQ(g.guard.state().usage_bytes, 10 * mib);
    EXPECT_FALSE(g.guard.state().capped);

    // At or over the threshold: no room at all.
    g.usage = 95 * mib;
    g.guard.refresh(2);
    EXPECT_EQ(g.pool.at(0).task_ceiling(), 0u);
    EXPECT_EQ(g.pool.at(1).task_ceiling(), 0u);

    // An unreadable probe changes nothing.
    g.usage = 10 * mib;
    g.guard.refresh(3);
    g.usage = std::nullopt;
    g.guard.refresh(4);
    EXPECT_EQ(g.pool.at(0).task_ceiling(), share);
    EXPECT_EQ(g.guard.state().usage_bytes, 10 * mib);
}

TEST(MemoryGuard, caps_spawning_counts_one_episode_and_reuses_the_room_of_retired_tasks) {
    guarded_pool g;
    // Room for 2,000 tasks at the default size: 90 MiB threshold - usage.
    g.usage = 90 * mib - 2'000 * memory_guard::default_task_bytes;
    g.guard.refresh(1 * second);
    g.pool.start();
    g.pool.set_targets({runtime::target_ramp{0, 100'000, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return live(g.pool) == 2'000; }));
    // What the workers hold now fills the room.
    g.usage = 90 * mib;
    ASSERT_TRUE(wait_for([&] {
        g.guard.refresh(2 * second);
        return g.guard.state().capped;
    }));
    EXPECT_EQ(g.guard.state().episodes, 1u);
    std::this_thread::sleep_for(30ms);
    g.guard.refresh(2 * second + 30'000'000);
    EXPECT_EQ(live(g.pool), 2'000u);
    EXPECT_TRUE(g.guard.state().capped);

    // The stage lowers the target: tasks retire, usage stays (the memory stays with the process).
    g.pool.set_targets({runtime::target_ramp{0, 500, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return live(g.pool) == 500; }));
    g.guard.refresh(3 * second);
    // A second without a spawn held back ends the episode.
    g.guard.refresh(3 * second + memory_guard::episode_quiet_ns + 1);
    EXPECT_FALSE(g.guard.state().capped);

    // Raised again: the retired tasks' room is used again, and no more.
    g.pool.set_targets({runtime::target_ramp{0, 100'000, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] {
        g.guard.refresh(5 * second);
        return live(g.pool) == 2'000 && g.guard.state().capped;
    }));
    EXPECT_EQ(g.guard.state().episodes, 2u);
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(live(g.pool), 2'000u);
    EXPECT_TRUE(g.pool.stop(10s));
}

TEST(MemoryGuard, bytes_per_task_is_measured_once_enough_tasks_live) {
    guarded_pool g;
    g.usage = 10 * mib;
    g.guard.refresh(1);
    g.pool.start();
    g.pool.set_targets({runtime::target_ramp{0, memory_guard::measure_after_tasks, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return live(g.pool) == memory_guard::measure_after_tasks; }));
    g.resident = memory_guard::measure_after_tasks * 100;  // 100 B a task above the baseline
    g.guard.refresh(2);
    EXPECT_EQ(g.guard.state().bytes_per_task, 100u);
    const std::uint64_t share = (80 * mib) / 100 / 2;
    for (unsigned i = 0; i < g.pool.size(); ++i)
        EXPECT_EQ(g.pool.at(i).task_ceiling(), g.pool.at(i).shard().workload(0).live() + share);
    EXPECT_TRUE(g.pool.stop(10s));
}

// ulimit -v: the mapped bytes bound the room too, and the tighter bound wins.
TEST(MemoryGuard, the_address_space_bound_caps_the_room_when_it_is_tighter) {
    sleeper_factory factory;
    runtime::pool pool{2, {&factory}, {}};
    memory_limit limit{limit_source::config, 100 * mib, 10 * mib, 50 * mib, 5 * mib};
    std::optional<std::uint64_t> usage = 10 * mib;
    std::optional<std::uint64_t> mapped = 40 * mib;
    memory_guard guard{limit, [&] { return usage; }, [] { return std::uint64_t{0}; }, 0,
                       pool,  [&] { return mapped; }};
    guard.refresh(1);
    // Memory leaves 80 MiB; the address space 45 - 40 = 5 MiB.
    EXPECT_EQ(pool.at(0).task_ceiling(), 5 * mib / memory_guard::default_task_bytes / 2);
    EXPECT_TRUE(guard.state().address_space_binds);

    mapped = 10 * mib;  // the address space leaves 35 MiB, still less than memory's 80
    guard.refresh(2);
    EXPECT_EQ(pool.at(0).task_ceiling(), 35 * mib / memory_guard::default_task_bytes / 2);
    EXPECT_TRUE(guard.state().address_space_binds);

    usage = 70 * mib;  // memory: 20 MiB left, address space 35 MiB
    guard.refresh(3);
    EXPECT_EQ(pool.at(0).task_ceiling(), 20 * mib / memory_guard::default_task_bytes / 2);
    EXPECT_FALSE(guard.state().address_space_binds);

    mapped = 60 * mib;  // past the address-space threshold: no room at all
    guard.refresh(4);
    EXPECT_EQ(pool.at(0).task_ceiling(), 0u);
}

}  // namespace
}  // namespace corostorm::guard
