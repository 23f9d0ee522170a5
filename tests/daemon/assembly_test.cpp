// The assembly: the factories it builds read the options it owns, and a
// retune writes them in place, so running tasks of every engine see it.
#include "daemon/assembly.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "runtime/clock.h"
#include "support/wait.h"

namespace corostorm::daemon {
namespace {

using namespace std::chrono_literals;
using testing::wait_for;

config::config one_workload(const std::string& engine, const std::string& workload) {
    return config::load_string("runtime: { threads: 1, engine: " + engine +
                               " }\n"
                               "scenario: { stages: [ { name: hold, tasks: 2, over: 0s } ] }\n"
                               "workloads:\n  - " +
                               workload + "\n");
}

metrics::scenario_view no_scenario() { return {}; }

std::vector<config::workload_config> workloads_of(const config::config& c) { return c.workloads; }

class Retune : public ::testing::TestWithParam<const char*> {};

// cpu runs as yield with the slice as its work: a 5 ms slice allows ~40
// resumes in 200 ms where a 1 us slice allows tens of thousands.
TEST_P(Retune, a_new_cpu_slice_reaches_running_tasks) {
    const auto built = one_workload(GetParam(), "{ name: c, kind: cpu, slice: 5ms }");
    assembly a(built, no_scenario);
    a.pool().start();
    a.pool().set_targets({runtime::target_ramp{0, 2, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return a.totals().workloads[0].resumes >= 10; }));
    const auto resumes_in = [&](std::chrono::milliseconds window) {
        const std::uint64_t before = a.totals().workloads[0].resumes;
        std::this_thread::sleep_for(window);
        return a.totals().workloads[0].resumes - before;
    };
    const std::uint64_t slow = resumes_in(200ms);
    a.retune(workloads_of(one_workload(GetParam(), "{ name: c, kind: cpu, slice: 1us }")));
    std::this_thread::sleep_for(20ms);  // the slices under way end
    const std::uint64_t fast = resumes_in(200ms);
    EXPECT_GT(fast, 20 * std::max<std::uint64_t>(slow, 1)) << "slow " << slow << ", fast " << fast;
    EXPECT_TRUE(a.pool().stop(10s));
}

// echo keeps per-worker listeners in its factory; the period it reads is the
// assembly's. At a 1 s period 2 connections make ~2 round trips a second: 200
// within the wait needs the 1 ms period of the retune.
TEST_P(Retune, a_new_echo_period_reaches_running_connections) {
    const auto built = one_workload(GetParam(), "{ name: e, kind: echo, period: 1s, message: 64 }");
    assembly a(built, no_scenario);
    a.pool().start();
    a.pool().set_targets({runtime::target_ramp{0, 2, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return a.totals().workloads[0].live == 2; }));
    a.retune(workloads_of(one_workload(GetParam(), "{ name: e, kind: echo, period: 1ms, message: 64 }")));
    EXPECT_TRUE(wait_for([&] { return a.totals().workloads[0].round_trips >= 200; }, 10s))
        << a.totals().workloads[0].round_trips << " round trips";
    EXPECT_TRUE(a.pool().stop(10s));
}

INSTANTIATE_TEST_SUITE_P(Engines, Retune, ::testing::Values("lean", "asio"),
                         [](const auto& engine_info) { return std::string(engine_info.param); });

// A retune for another kind than was built (a reload refuses that as
// restart-only) throws instead of writing into options of another type.
TEST(RetuneKind, a_different_kind_throws_and_changes_nothing) {
    const auto built = one_workload("lean", "{ name: s, kind: sleep, period: 1s }");
    assembly a(built, no_scenario);
    EXPECT_THROW(a.retune(workloads_of(one_workload("lean", "{ name: s, kind: ring, ring_size: 10 }"))),
                 std::bad_variant_access);
    EXPECT_EQ(a.tasks_per_unit(0), 1u);
}

TEST(TasksPerUnit, follows_each_kinds_unit) {
    const auto unit = [](const std::string& w) {
        return tasks_per_unit(one_workload("lean", w).workloads[0]);
    };
    EXPECT_EQ(unit("{ name: s, kind: sleep }"), 1u);
    EXPECT_EQ(unit("{ name: c, kind: cpu }"), 1u);
    EXPECT_EQ(unit("{ name: r, kind: ring, ring_size: 7 }"), 7u);
    EXPECT_EQ(unit("{ name: t, kind: spawn_tree, fanout: 3, depth: 2 }"), 13u);
    EXPECT_EQ(unit("{ name: e, kind: echo }"), 2u);
    EXPECT_EQ(unit("{ name: p, kind: rpc }"), 1u);
}

}  // namespace
}  // namespace corostorm::daemon
