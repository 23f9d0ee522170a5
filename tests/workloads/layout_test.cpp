// Every workload on both engines in the shared layout (one io_context run by
// all threads, a strand per worker): same semantics as per_thread.
#include <gtest/gtest.h>

#include <memory>

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
using testing::totals;
using testing::wait_for;

class SharedLayout : public ::testing::TestWithParam<bool> {
protected:
    bool asio() const { return GetParam(); }
    template <class Kind>
    std::unique_ptr<runtime::task_factory> make(const typename Kind::options& o) const {
        return make_workload<Kind>(asio() ? engine::asio : engine::lean, o);
    }
};

TEST_P(SharedLayout, sleepers_reach_the_target_wake_and_drain) {
    const sleep_options sleep_params{.period_ns = 10'000'000};
    auto sleep = make<sleepers>(sleep_params);
    runtime::pool p(2, {sleep.get()}, {}, runtime::layout::shared);
    p.start();
    p.set_targets({runtime::target_ramp{0, 2000, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return totals(p).live == 2000; }));
    ASSERT_TRUE(wait_for([&] { return totals(p).resumes >= 20'000; }));
    EXPECT_TRUE(p.stop(10s));
    const auto t = totals(p);
    EXPECT_EQ(t.live, 0u);
    EXPECT_EQ(t.error, 0u);
    EXPECT_EQ(t.cancelled, t.spawned);
}

// In the shared layout a worker's tasks run on whichever pool thread the
// io_context hands its strand to; a frame must still go back to the
// allocator of the worker that allocated it. Short-lived sleepers churn
// (spawned, three wake-ups, done, replaced) on two workers: a frame freed
// into the other worker's allocator would leave one count below zero (a
// huge unsigned value) and the other above, and its owner, never getting
// frames back, would keep carving new slabs.
TEST(SharedLayoutFrames, every_frame_returns_to_the_worker_that_allocated_it) {
    const sleep_options sleep_params{.period_ns = 1'000'000, .rounds = 3};
    lean_workload<sleepers> sleep(sleep_params);
    runtime::pool p(2, {&sleep}, {}, runtime::layout::shared);
    p.start();
    p.set_targets({runtime::target_ramp{0, 4000, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return totals(p).ok >= 20'000; }));
    const std::uint64_t reserved0 = p.at(0).frame_reserved_bytes();
    const std::uint64_t reserved1 = p.at(1).frame_reserved_bytes();
    ASSERT_TRUE(wait_for([&] { return totals(p).ok >= 100'000; }));
    // 80,000 more frames came and went; each worker reused its own.
    EXPECT_LE(p.at(0).frame_reserved_bytes(), reserved0 + runtime::frame_allocator::slab_bytes);
    EXPECT_LE(p.at(1).frame_reserved_bytes(), reserved1 + runtime::frame_allocator::slab_bytes);
    EXPECT_TRUE(p.stop(10s));
    for (unsigned i = 0; i < 2; ++i) {
        EXPECT_EQ(p.at(i).frame_live_bytes(), 0u) << "worker " << i;
        EXPECT_EQ(p.at(i).shard().workload(0).frame_bytes.read(), 0u) << "worker " << i;
        EXPECT_GT(p.at(i).shard().workload(0).spawned.read(), 10'000u) << "worker " << i;
    }
}

TEST_P(SharedLayout, ring_tokens_survive_and_rings_dissolve_whole) {
    const ring_options ring_params{.ring_size = 10};
    auto ring = make<rings>(ring_params);
    runtime::pool p(2, {ring.get()}, {}, runtime::layout::shared);
    p.start();
    p.set_targets({runtime::target_ramp{0, 100, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return totals(p).live == 100; }));
    ASSERT_TRUE(wait_for([&] { return totals(p).resumes >= 50'000; }));
    EXPECT_EQ(totals(p).error, 0u);
    EXPECT_TRUE(p.stop(10s));
    EXPECT_EQ(totals(p).live, 0u);
    EXPECT_EQ(totals(p).cancelled, 100u);
}

TEST_P(SharedLayout, yield_and_tree_counts_add_up) {
    const yield_options yield_params{.rounds = 100};
    auto yield = make<yielders>(yield_params);
    const spawn_tree_options shape{.fanout = 3, .depth = 4};
    auto tree = make<spawn_trees>(shape);
    runtime::pool p(2, {yield.get(), tree.get()}, {}, runtime::layout::shared);
    p.start();
    const auto now = runtime::now_ns();
    p.set_targets(
        {runtime::target_ramp{0, 20, now, 0}, runtime::target_ramp{0, 2 * tree_tasks(shape), now, 0}});
    auto workload = [&](std::size_t w) { return totals(p, w); };
    ASSERT_TRUE(
        wait_for([&] { return workload(0).ok >= 100 && workload(1).spawned >= 20 * tree_tasks(shape); }));
    EXPECT_TRUE(p.stop(10s));
    EXPECT_EQ(workload(0).error, 0u);
    EXPECT_EQ(workload(1).error, 0u) << "a tree summed wrong";
}

INSTANTIATE_TEST_SUITE_P(Engines, SharedLayout, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "asio" : "lean"; });

}  // namespace
}  // namespace corostorm::workloads
