// The workloads on the asio engine: same semantics as the lean versions.
#include <gtest/gtest.h>

#include "runtime/clock.h"
#include "runtime/pool.h"
#include "support/totals.h"
#include "support/wait.h"
#include "workloads/ring.h"
#include "workloads/sleep.h"
#include "workloads/spawn_tree.h"
#include "workloads/yield.h"

namespace corostorm::workloads {
namespace {

using namespace std::chrono_literals;
using testing::live;
using testing::sum;
using testing::wait_for;

TEST(AsioEngine, sleepers_wake_every_round_and_finish_ok) {
    const sleep_options sleep_params{.period_ns = 5'000'000, .rounds = 4};
    asio_workload<sleepers> sleep(sleep_params);
    runtime::pool p(2, {&sleep}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, 50, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return sum(p, [](const auto& s) { return s.completed[0].read(); }) >= 100; }));
    EXPECT_TRUE(p.stop(10s));
    const auto ok = sum(p, [](const auto& s) { return s.completed[0].read(); });
    const auto cancelled = sum(p, [](const auto& s) { return s.completed[2].read(); });
    const auto resumes = sum(p, [](const auto& s) { return s.resumes.read(); });
    EXPECT_EQ(sum(p, [](const auto& s) { return s.completed[1].read(); }), 0u);
    EXPECT_EQ(ok + cancelled, sum(p, [](const auto& s) { return s.spawned.read(); }));
    EXPECT_GE(resumes, 4 * ok);
    EXPECT_LE(resumes, 4 * (ok + cancelled));
    metrics::latency_snapshot timer;
    for (unsigned i = 0; i < p.size(); ++i) timer.add(p.at(i).shard().workload(0).latency[0]);
    EXPECT_EQ(timer.count(), resumes) << "every wake-up recorded at sample_every 1";
}

TEST(AsioEngine, yield_counts_add_up_with_ready_latency) {
    const yield_options yield_params{.rounds = 500, .work_ns = 0};
    asio_workload<yielders> yield(yield_params);
    runtime::pool p(1, {&yield}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, 10, runtime::now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    ASSERT_TRUE(wait_for([&] { return s.completed[0].read() >= 30; }));
    EXPECT_TRUE(p.stop(10s));
    const std::uint64_t ok = s.completed[0].read();
    const std::uint64_t cancelled = s.completed[2].read();
    EXPECT_GE(s.resumes.read(), 500 * ok);
    EXPECT_LE(s.resumes.read(), 500 * (ok + cancelled));
    metrics::latency_snapshot ready;
    ready.add(s.latency[1]);
    EXPECT_EQ(ready.count(), s.resumes.read());
}

TEST(AsioEngine, ring_tokens_survive_many_laps_and_rings_dissolve_whole) {
    const ring_options ring_params{.ring_size = 20};
    asio_workload<rings> ring(ring_params);
    runtime::pool p(2, {&ring}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, 200, runtime::now_ns(), 0}});  // 10 rings
    ASSERT_TRUE(wait_for([&] { return live(p) == 200; }));
    ASSERT_TRUE(wait_for([&] { return sum(p, [](const auto& s) { return s.resumes.read(); }) >= 200'000; }));
    EXPECT_EQ(sum(p, [](const auto& s) { return s.completed[1].read(); }), 0u) << "a token went missing";
    EXPECT_TRUE(p.stop(10s));
    EXPECT_EQ(live(p), 0u);
    EXPECT_EQ(sum(p, [](const auto& s) { return s.completed[2].read(); }), 200u);
}

TEST(AsioEngine, a_spawn_tree_sums_right_and_counts_every_task) {
    const spawn_tree_options shape{.fanout = 4, .depth = 4};  // 341 tasks, sum 0 + ... + 255
    asio_workload<spawn_trees> tree(shape);
    runtime::pool p(1, {&tree}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, tree_tasks(shape), runtime::now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    ASSERT_TRUE(wait_for([&] { return s.spawned.read() >= 1 + 10 * (tree_tasks(shape) - 1); }));
    EXPECT_TRUE(p.stop(10s));
    EXPECT_EQ(s.completed[1].read(), 0u) << "a tree summed wrong";
    EXPECT_EQ(s.completed[2].read(), 1u);  // the root, at stop
    EXPECT_EQ(s.live(), 0u);
    EXPECT_EQ((s.spawned.read() - 1) % (tree_tasks(shape) - 1), 0u) << "whole trees only";
}

}  // namespace
}  // namespace corostorm::workloads
