// Lean tasks on real workers: lifetime, accounting, the scope, timers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/awaiters.h"
#include "runtime/clock.h"
#include "runtime/pool.h"
#include "runtime/task_factory.h"
#include "support/totals.h"
#include "support/wait.h"

namespace corostorm::runtime {
namespace {

using namespace std::chrono_literals;

// Counts constructions and destructions, as cppcoro's `counted` does.
struct counted {
    static inline std::atomic<int> constructed{0};
    static inline std::atomic<int> destroyed{0};
    counted() { constructed.fetch_add(1); }
    counted(const counted&) = delete;
    ~counted() { destroyed.fetch_add(1); }
    static void reset() {
        constructed = 0;
        destroyed = 0;
    }
};

task holder(task_env env, std::uint64_t period_ns) {
    counted c;
    std::uint64_t deadline = now_ns() + period_ns;
    for (;;) {
        co_await sleep_until{deadline};
        if (this_worker().should_retire(env.workload)) co_return task_outcome::cancelled;
        deadline += period_ns;
    }
}

struct holder_factory final : task_factory {
    std::uint64_t period_ns = 50'000'000;
    void spawn(task_env env, worker&) override { holder(env, period_ns); }
};

task big_frame(task_env env) {
    volatile char buffer[3000];  // lives across the suspension point: part of the frame
    buffer[0] = 1;
    co_await sleep_until{now_ns() + 1'000'000'000'000};
    buffer[1] = buffer[0];
    (void)env;
    co_return task_outcome::ok;
}

struct big_factory final : task_factory {
    void spawn(task_env env, worker&) override { big_frame(env); }
};

task thrower(task_env) {
    co_await sleep_until{now_ns() + 1'000'000};
    throw std::runtime_error("boom");
}

struct throwing_factory final : task_factory {
    std::atomic<int> spawned{0};
    void spawn(task_env env, worker&) override {
        // Spawn a bounded number so the target is never chased forever.
        if (spawned.fetch_add(1) < 100) thrower(env);
    }
};

// Records wake-ups: (deadline, actual) in wake order.
struct wake_log {
    std::mutex mu;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> wakes;
};

task one_shot(task_env, wake_log& log, std::uint64_t deadline) {
    co_await sleep_until{deadline};
    const std::uint64_t now = now_ns();
    {
        std::lock_guard lock(log.mu);
        log.wakes.emplace_back(deadline, now);
    }
    co_return task_outcome::ok;
}

struct one_shot_factory final : task_factory {
    wake_log log;
    std::atomic<std::uint64_t> index{0};
    std::uint64_t base = 0;
    void spawn(task_env env, worker&) override {
        // 200 deadlines spaced 1.3 ms apart, spawned in reverse order; no more.
        const std::uint64_t k = index.fetch_add(1);
        if (k < 200) one_shot(env, log, base + (199 - k) * 1'300'000);
    }
};

using testing::live;
using testing::wait_for;

std::uint64_t held_back(const pool& p) {
    std::uint64_t n = 0;
    for (unsigned i = 0; i < p.size(); ++i) n += p.at(i).shard().spawn_denied_memory.read();
    return n;
}

TEST(TaskCeiling, spawning_stops_at_the_ceiling_counts_the_turns_and_resumes_when_raised) {
    holder_factory f;
    pool p(2, {&f}, {});
    for (unsigned i = 0; i < p.size(); ++i) p.at(i).set_task_ceiling(3'000);
    p.start();
    EXPECT_EQ(held_back(p), 0u);
    p.set_targets({target_ramp{0, 10'000, now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return live(p) == 6'000 && held_back(p) >= 4; }));
    // Held: a few more control turns change nothing but the count of turns held back.
    const std::uint64_t turns = held_back(p);
    ASSERT_TRUE(wait_for([&] { return held_back(p) >= turns + 4; }));
    EXPECT_EQ(live(p), 6'000u);
    for (unsigned i = 0; i < p.size(); ++i) EXPECT_EQ(p.at(i).shard().workload(0).live(), 3'000u);

    for (unsigned i = 0; i < p.size(); ++i) p.at(i).set_task_ceiling(UINT64_MAX);
    ASSERT_TRUE(wait_for([&] { return live(p) == 10'000; }));
    // At the target nothing is held back any more.
    const std::uint64_t after = held_back(p);
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(held_back(p), after);
    EXPECT_TRUE(p.stop(10s));
}

TEST(LeanTask, frames_are_destroyed_when_the_scope_drains) {
    counted::reset();
    holder_factory f;
    pool p(2, {&f}, {});
    p.start();
    p.set_targets({target_ramp{0, 10'000, now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return live(p) == 10'000; }));
    EXPECT_EQ(counted::constructed.load(), 10'000);
    EXPECT_EQ(counted::destroyed.load(), 0);
    EXPECT_TRUE(p.stop(10s));
    EXPECT_EQ(counted::destroyed.load(), 10'000);
    EXPECT_EQ(live(p), 0u);
    for (unsigned i = 0; i < p.size(); ++i) {
        EXPECT_TRUE(p.at(i).finished());
        EXPECT_EQ(p.at(i).frame_live_bytes(), 0u);
        EXPECT_EQ(p.at(i).shard().workload(0).frame_bytes.read(), 0u);
        EXPECT_EQ(p.at(i).shard().workload(0).completed[2].read(),
                  p.at(i).shard().workload(0).spawned.read());
    }
}

TEST(LeanTask, frame_bytes_seen_by_the_scope_equal_the_allocator_count) {
    holder_factory small;
    big_factory big;
    pool p(1, {&small, &big}, {});
    p.start();
    const auto t = now_ns();
    p.set_targets({target_ramp{0, 1000, t, 0}, target_ramp{0, 100, t, 0}});
    ASSERT_TRUE(wait_for([&] { return live(p, 0) == 1000 && live(p, 1) == 100; }));
    const auto& shard = p.at(0).shard();
    const std::uint64_t small_bytes = shard.workload(0).frame_bytes.read();
    const std::uint64_t big_bytes = shard.workload(1).frame_bytes.read();
    EXPECT_EQ(small_bytes + big_bytes, p.at(0).frame_live_bytes());
    EXPECT_EQ(small_bytes % 1000, 0u) << "every frame of one coroutine has the same size";
    EXPECT_EQ(big_bytes % 100, 0u);
    EXPECT_GE(big_bytes / 100, 3000u) << "the buffer lives in the frame";
    EXPECT_LT(small_bytes / 1000, 256u);
    EXPECT_TRUE(p.stop(10s));
    EXPECT_EQ(p.at(0).frame_live_bytes(), 0u);
}

TEST(LeanTask, an_escaping_exception_is_counted_as_an_error) {
    throwing_factory f;
    pool p(1, {&f}, {});
    p.start();
    p.set_targets({target_ramp{0, 100, now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    ASSERT_TRUE(wait_for([&] { return s.completed[1].read() == 100; }));
    EXPECT_EQ(s.spawned.read(), 100u);
    EXPECT_EQ(s.live(), 0u);
    EXPECT_TRUE(p.stop(10s));
    EXPECT_EQ(p.at(0).frame_live_bytes(), 0u);
}

TEST(LeanTask, timers_fire_in_deadline_order_and_never_early) {
    one_shot_factory f;
    f.base = now_ns() + 50'000'000;
    pool p(1, {&f}, {});
    p.start();
    p.set_targets({target_ramp{0, 200, now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return p.at(0).shard().workload(0).completed[0].read() == 200; }));
    std::lock_guard lock(f.log.mu);
    ASSERT_EQ(f.log.wakes.size(), 200u);
    for (std::size_t i = 0; i < f.log.wakes.size(); ++i) {
        const auto [deadline, woke] = f.log.wakes[i];
        EXPECT_GE(woke, deadline) << "woke early";
        if (i > 0) {
            EXPECT_GT(deadline, f.log.wakes[i - 1].first) << "woke out of deadline order";
        }
    }
    EXPECT_TRUE(p.stop(10s));
}

TEST(LeanTask, lowering_the_target_retires_surplus_tasks_at_their_next_wake) {
    holder_factory f;
    f.period_ns = 10'000'000;
    pool p(2, {&f}, {});
    p.start();
    p.set_targets({target_ramp{0, 4000, now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return live(p) == 4000; }));
    p.set_targets({target_ramp{4000, 1000, now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return live(p) == 1000; }));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(live(p), 1000u) << "retiring stops at the target";
    std::uint64_t cancelled = 0;
    for (unsigned i = 0; i < p.size(); ++i) cancelled += p.at(i).shard().workload(0).completed[2].read();
    EXPECT_EQ(cancelled, 3000u);
    EXPECT_TRUE(p.stop(10s));
}

TEST(LeanTask, a_ramp_spawns_gradually) {
    holder_factory f;
    pool p(1, {&f}, {});
    p.start();
    const target_ramp ramp{0, 100'000, now_ns(), 400'000'000};  // 100k over 400 ms
    p.set_targets({ramp});
    // Whenever we look, the worker has spawned no more than the ramp allowed
    // by then (it spawns toward the target of its own, earlier, clock), and
    // some look falls inside the ramp.
    int inside = 0;
    for (int i = 0; i < 1000; ++i) {
        const std::uint64_t n = live(p);
        EXPECT_LE(n, ramp.at(now_ns())) << "a ramp is paced, not a burst";
        if (n > 0 && n < 100'000) ++inside;
        if (n == 100'000) break;
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_GT(inside, 0);
    ASSERT_TRUE(wait_for([&] { return live(p) == 100'000; }));
    EXPECT_TRUE(p.stop(10s));
}

TEST(LeanTask, resumes_and_timer_latency_are_recorded) {
    holder_factory f;
    f.period_ns = 5'000'000;
    pool p(1, {&f}, {});
    p.start();
    p.set_targets({target_ramp{0, 100, now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    ASSERT_TRUE(wait_for([&] { return s.resumes.read() >= 1000; }));
    metrics::latency_snapshot snap;
    snap.add(s.latency[0]);
    EXPECT_GE(snap.count(), 900u);
    EXPECT_GT(snap.quantile(0.5), 0.0);
    EXPECT_TRUE(p.stop(10s));
}

TEST(LeanTask, aborting_a_pool_destroys_suspended_frames) {
    counted::reset();
    holder_factory f;
    f.period_ns = 3'600'000'000'000;  // an hour: nobody wakes on their own
    {
        pool p(1, {&f}, {});
        p.start();
        p.set_targets({target_ramp{0, 500, now_ns(), 0}});
        ASSERT_TRUE(wait_for([&] { return live(p) == 500; }));
        p.stop(0ms);  // no time to drain: abort
    }
    EXPECT_EQ(counted::destroyed.load(), counted::constructed.load());
}

TEST(TargetRamp, is_linear_between_its_ends_and_flat_outside) {
    const target_ramp r{100, 1100, 1000, 1000};
    EXPECT_EQ(r.at(0), 100u);
    EXPECT_EQ(r.at(1000), 100u);
    EXPECT_EQ(r.at(1500), 600u);
    EXPECT_EQ(r.at(2000), 1100u);
    EXPECT_EQ(r.at(99999), 1100u);
    const target_ramp down{1000, 0, 0, 100};
    EXPECT_EQ(down.at(25), 750u);
    EXPECT_EQ((target_ramp{5, 7, 10, 0}.at(0)), 7u) << "a zero-length ramp jumps";
}

TEST(IdleWorker, ticks_rarely_once_settled_and_a_new_target_or_a_stop_wakes_it_at_once) {
    holder_factory f;
    worker_options options;
    options.settled_control_period_ns = 3'600'000'000'000;  // an hour: only a wake-up ends the wait
    pool p(1, {&f}, options);
    p.start();
    p.set_targets({target_ramp{0, 0, now_ns(), 0}});
    std::this_thread::sleep_for(300ms);  // 60 ticks at the 5 ms control period
    p.set_targets({target_ramp{0, 100, now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return live(p) == 100; })) << "the new target waited for the settled tick";
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(p.stop(10s)) << "the stop waited for the settled tick";
    EXPECT_LE(p.at(0).control_ticks(), 20u);
    EXPECT_GE(p.at(0).control_ticks(), 2u);
}

}  // namespace
}  // namespace corostorm::runtime
