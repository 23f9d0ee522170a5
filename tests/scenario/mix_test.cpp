// A mix of workloads: the stage's target is split by weight, and the live
// tasks of each workload follow their share exactly (within one task).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "runtime/clock.h"
#include "runtime/pool.h"
#include "scenario/timeline.h"
#include "support/totals.h"
#include "workloads/sleep.h"
#include "workloads/yield.h"

namespace corostorm::scenario {
namespace {

using namespace std::chrono_literals;

using testing::live;

TEST(Mix, live_tasks_per_workload_follow_the_weights) {
    const workloads::sleep_options idle_params{.period_ns = 50'000'000};
    workloads::lean_workload<workloads::sleepers> idle(idle_params);
    const workloads::yield_options busy_params{};
    workloads::lean_workload<workloads::yielders> busy(busy_params);
    // cpu: yields with the slice as their work
    const workloads::yield_options crunch_params{.work_ns = 10'000};
    workloads::lean_workload<workloads::yielders> crunch(crunch_params);
    runtime::pool p(2, {&idle, &busy, &crunch}, {});
    p.start();
    const std::vector<double> weights{6, 3, 1};
    const std::uint64_t t0 = runtime::now_ns();
    timeline t({{"up", 10'001, 200'000'000}, {"down", 3'333, 200'000'000}}, false, weights, t0);
    t.advance(t0);
    p.set_targets(t.ramps());
    const auto expect = [&](std::uint64_t total) {
        const auto parts = split_by_weight(total, weights);
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        for (;;) {
            bool all = true;
            for (std::size_t w = 0; w < parts.size(); ++w) all = all && live(p, w) == parts[w];
            if (all || std::chrono::steady_clock::now() > deadline) break;
            std::this_thread::sleep_for(1ms);
        }
        for (std::size_t w = 0; w < parts.size(); ++w) {
            EXPECT_EQ(live(p, w), parts[w]) << "workload " << w << " at total " << total;
        }
    };
    expect(10'001);  // 6000.6 / 3000.3 / 1000.1 -> 6001 / 3000 / 1000
    t.advance(t0 + 200'000'000);
    p.set_targets(t.ramps());
    expect(3'333);
    EXPECT_TRUE(p.stop(10s));
}

}  // namespace
}  // namespace corostorm::scenario
