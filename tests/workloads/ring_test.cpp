#include "workloads/ring.h"

#include <gtest/gtest.h>

#include "runtime/clock.h"
#include "runtime/pool.h"
#include "support/totals.h"
#include "support/wait.h"

namespace corostorm::workloads {
namespace {

using namespace std::chrono_literals;
using testing::live;
using testing::sum;
using testing::wait_for;

TEST(RingWorkload, tokens_go_round_many_laps_without_loss) {
    const ring_options ring_params{.ring_size = 50};
    lean_workload<rings> ring(ring_params);
    runtime::pool p(2, {&ring}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, 1000, runtime::now_ns(), 0}});  // 20 rings
    ASSERT_TRUE(wait_for([&] { return live(p) == 1000; }));
    // 20 rings x 1000 laps x 50 hops: a lost or doubled token would end a
    // ring with an error (the leader checks the hop count every lap).
    ASSERT_TRUE(
        wait_for([&] { return sum(p, [](const auto& s) { return s.resumes.read(); }) >= 1'000'000; }));
    EXPECT_EQ(sum(p, [](const auto& s) { return s.completed[1].read(); }), 0u);
    EXPECT_EQ(live(p), 1000u);
    EXPECT_TRUE(p.stop(10s));
    // Stopping dissolves every ring completely.
    EXPECT_EQ(live(p), 0u);
    EXPECT_EQ(sum(p, [](const auto& s) { return s.completed[2].read(); }), 1000u);
    for (unsigned i = 0; i < p.size(); ++i) EXPECT_EQ(p.at(i).frame_live_bytes(), 0u);
}

TEST(RingWorkload, a_lower_target_retires_whole_rings) {
    const ring_options ring_params{.ring_size = 10};
    lean_workload<rings> ring(ring_params);
    runtime::pool p(1, {&ring}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, 100, runtime::now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    ASSERT_TRUE(wait_for([&] { return s.live() == 100; }));
    p.set_targets({runtime::target_ramp{100, 35, runtime::now_ns(), 0}});  // 3 rings fit
    ASSERT_TRUE(wait_for([&] { return s.live() == 30; }));
    EXPECT_EQ(s.completed[2].read(), 70u);
    EXPECT_EQ(s.completed[1].read(), 0u);
    EXPECT_TRUE(p.stop(10s));
}

TEST(RingWorkload, hand_offs_are_recorded_as_ready_latency) {
    const ring_options ring_params{.ring_size = 4};
    lean_workload<rings> ring(ring_params);
    runtime::pool p(1, {&ring}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, 4, runtime::now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    ASSERT_TRUE(wait_for([&] { return s.resumes.read() >= 10'000; }));
    EXPECT_TRUE(p.stop(10s));
    metrics::latency_snapshot ready;
    ready.add(s.latency[1]);
    EXPECT_GE(ready.count(), 10'000u);
    EXPECT_LE(ready.count(), s.resumes.read());
}

}  // namespace
}  // namespace corostorm::workloads
