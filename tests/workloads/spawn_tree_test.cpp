#include "workloads/spawn_tree.h"

#include <gtest/gtest.h>

#include "runtime/clock.h"
#include "runtime/pool.h"
#include "support/wait.h"

namespace corostorm::workloads {
namespace {

using namespace std::chrono_literals;
using testing::wait_for;

TEST(SpawnTree, skynet_shape_has_the_known_size_and_sum) {
    const spawn_tree_options skynet{.fanout = 10, .depth = 6};
    EXPECT_EQ(tree_tasks(skynet), 1'111'111u);
    EXPECT_EQ(tree_sum(skynet), 499'999'500'000u);
    EXPECT_EQ(tree_tasks({.fanout = 2, .depth = 3}), 15u);
    EXPECT_EQ(tree_sum({.fanout = 2, .depth = 3}), 28u);  // 0 + 1 + ... + 7
    EXPECT_EQ(tree_tasks({.fanout = 1, .depth = 4}), 5u);
}

TEST(SpawnTree, a_skynet_tree_runs_every_task_and_sums_right) {
    const spawn_tree_options tree_params{.fanout = 10, .depth = 6};
    lean_workload<spawn_trees> tree(tree_params);
    runtime::pool p(1, {&tree}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, 1'111'111, runtime::now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    // The root checks the sum after every tree and fails with an error if wrong.
    ASSERT_TRUE(wait_for([&] { return s.spawned.read() >= 2 * 1'111'111 - 1; }, 120s));
    EXPECT_TRUE(p.stop(60s));
    EXPECT_EQ(s.completed[1].read(), 0u) << "a tree summed wrong";
    // Every task but the one root ran to the end; the root was cancelled at stop.
    EXPECT_EQ(s.completed[2].read(), 1u);
    EXPECT_EQ(s.completed[0].read(), s.spawned.read() - 1);
    EXPECT_EQ((s.spawned.read() - 1) % (1'111'111 - 1), 0u) << "whole trees only";
    EXPECT_EQ(p.at(0).frame_live_bytes(), 0u);
}

TEST(SpawnTree, a_tree_runs_in_bounded_turns_through_the_ready_queue) {
    // 111,111 tasks a tree, each turn at most 1024 tasks (2048 for a control
    // tick): the tree is spread over a hundred turns and more, with the
    // worker's timers and control ticks between them, and still sums right.
    const spawn_tree_options tree_params{.fanout = 10, .depth = 5};
    lean_workload<spawn_trees> tree(tree_params);
    runtime::worker_options options;
    options.resume_batch = 1024;
    options.spawn_batch = 2048;
    runtime::pool p(1, {&tree}, options);
    p.start();
    p.set_targets({runtime::target_ramp{0, 111'111, runtime::now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    ASSERT_TRUE(wait_for([&] { return s.spawned.read() >= 1 + 3 * (111'111 - 1); }, 120s));
    EXPECT_TRUE(p.stop(60s));
    EXPECT_EQ(s.completed[1].read(), 0u) << "a tree summed wrong";
    EXPECT_EQ(s.completed[0].read(), s.spawned.read() - 1);
    EXPECT_GT(p.at(0).max_turn_work(), 0u);
    EXPECT_LE(p.at(0).max_turn_work(), options.spawn_batch) << "a turn ran more tasks than its budget";
    EXPECT_EQ(p.at(0).frame_live_bytes(), 0u);
}

TEST(SpawnTree, a_share_smaller_than_one_tree_runs_none) {
    const spawn_tree_options tree_params{.fanout = 10, .depth = 3};
    lean_workload<spawn_trees> tree(tree_params);  // 1111 tasks a tree
    runtime::pool p(1, {&tree}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, 1110, runtime::now_ns(), 0}});
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(p.at(0).shard().workload(0).spawned.read(), 0u);
    EXPECT_TRUE(p.stop(10s));
}

}  // namespace
}  // namespace corostorm::workloads
