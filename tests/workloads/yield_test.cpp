#include "workloads/yield.h"

#include <gtest/gtest.h>

#include "runtime/clock.h"
#include "runtime/pool.h"
#include "support/wait.h"

namespace corostorm::workloads {
namespace {

using namespace std::chrono_literals;
using testing::wait_for;

TEST(YieldWorkload, yield_counts_add_up_and_ready_latency_is_recorded) {
    const yield_options yield_params{.rounds = 1000, .work_ns = 0};
    lean_workload<yielders> yield(yield_params);
    runtime::pool p(1, {&yield}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, 10, runtime::now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    ASSERT_TRUE(wait_for([&] { return s.completed[0].read() >= 30; }));
    EXPECT_TRUE(p.stop(10s));
    // A finished task yielded exactly 1000 times; one cancelled at stop at most 1000.
    const std::uint64_t ok = s.completed[0].read();
    const std::uint64_t cancelled = s.completed[2].read();
    EXPECT_EQ(ok + cancelled, s.spawned.read());
    EXPECT_GE(s.resumes.read(), 1000 * ok);
    EXPECT_LE(s.resumes.read(), 1000 * (ok + cancelled));
    metrics::latency_snapshot ready;
    ready.add(s.latency[1]);
    EXPECT_EQ(ready.count(), s.resumes.read()) << "sample_every 1 records every resume";
    metrics::latency_snapshot timer;
    timer.add(s.latency[0]);
    EXPECT_EQ(timer.count(), 0u);
}

TEST(YieldWorkload, sampling_records_one_in_n_resumes) {
    const yield_options yield_params{.rounds = 0, .work_ns = 0};
    lean_workload<yielders> yield(yield_params);
    runtime::pool p(1, {&yield}, {.sample_every = 10});
    p.start();
    p.set_targets({runtime::target_ramp{0, 5, runtime::now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    ASSERT_TRUE(wait_for([&] { return s.resumes.read() >= 100'000; }));
    EXPECT_TRUE(p.stop(10s));
    metrics::latency_snapshot ready;
    ready.add(s.latency[1]);
    const double ratio = static_cast<double>(ready.count()) / static_cast<double>(s.resumes.read());
    EXPECT_NEAR(ratio, 0.1, 0.01);
}

TEST(CpuWorkload, ready_latency_excludes_the_tasks_own_slice) {
    // One task alone on its worker: it computes 2 ms, yields and is resumed
    // at once, so its ready latency is tiny. The stamp is taken when it
    // yields, after the slice; a stamp from before the slice (a clock not
    // read again after the work) would count each slice as latency.
    // cpu: yields with the slice as their work
    const yield_options cpu_params{.rounds = 0, .work_ns = 2'000'000};
    lean_workload<yielders> cpu(cpu_params);
    runtime::pool p(1, {&cpu}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, 1, runtime::now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    ASSERT_TRUE(wait_for([&] { return s.resumes.read() >= 50; }));
    EXPECT_TRUE(p.stop(10s));
    metrics::latency_snapshot ready;
    ready.add(s.latency[1]);
    ASSERT_GE(ready.count(), 50u);
    EXPECT_LT(ready.quantile(0.5), 0.5e-3) << "the 2 ms slice was counted as waiting";
}

class CpuSlices : public ::testing::TestWithParam<engine> {};

TEST_P(CpuSlices, keep_the_worker_busy_and_yield_between_them) {
    // cpu: yields with the slice as their work
    const yield_options cpu_params{.rounds = 0, .work_ns = 200'000};
    auto cpu = make_workload<yielders>(GetParam(), cpu_params);
    runtime::pool p(1, {cpu.get()}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, 4, runtime::now_ns(), 0}});
    const auto& shard = p.at(0).shard();
    ASSERT_TRUE(wait_for([&] { return shard.workload(0).resumes.read() >= 200; }));
    const std::uint64_t busy = shard.busy_ns.read();
    const std::uint64_t resumes = shard.workload(0).resumes.read();
    EXPECT_TRUE(p.stop(10s));
    // Each resume follows a 200 us slice; busy time is published every 5 ms
    // control tick, so allow 10 ms of staleness.
    EXPECT_GE(busy + 10'000'000, resumes * 200'000);
}

INSTANTIATE_TEST_SUITE_P(Engines, CpuSlices, ::testing::Values(engine::lean, engine::asio),
                         [](const auto& engine_info) {
                             return engine_info.param == engine::asio ? "asio" : "lean";
                         });

}  // namespace
}  // namespace corostorm::workloads
