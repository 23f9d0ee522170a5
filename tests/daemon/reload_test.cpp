// plan_reload: which keys of a new config apply live and which wait for a restart.
#include "daemon/reload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace corostorm::daemon {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

config::config running() {
    config::config c = config::load_string(R"(
server: { listen: "127.0.0.1:9464" }
runtime: { threads: 2, engine: lean, layout: per_thread }
memory: { limit: auto, headroom: 10% }
latency: { sample_every: 1 }
scenario:
  stages:
    - { name: ramp, tasks: 1M, over: 30s }
workloads:
  - { name: idle, kind: sleep, period: 1s }
  - { name: r, kind: ring, ring_size: 10, weight: 2 }
)");
    return c;
}

TEST(PlanReload, the_same_config_changes_nothing) {
    const auto plan = plan_reload(running(), running());
    EXPECT_THAT(plan.applied, IsEmpty());
    EXPECT_THAT(plan.restart_needed, IsEmpty());
    EXPECT_FALSE(plan.scenario_changed || plan.params_changed || plan.sampling_changed ||
                 plan.log_level_changed);
    EXPECT_EQ(plan.effective, running());
}

TEST(PlanReload, live_keys_apply) {
    auto fresh = running();
    fresh.scenario.stages[0].tasks = 2'000'000;
    fresh.workloads[0].sleep.period = std::chrono::milliseconds(100);
    fresh.latency.sample_every = 10;
    fresh.log.level = config::log_level::warn;
    const auto plan = plan_reload(running(), fresh);
    EXPECT_THAT(plan.restart_needed, IsEmpty());
    EXPECT_TRUE(plan.scenario_changed);
    EXPECT_TRUE(plan.params_changed);
    EXPECT_TRUE(plan.sampling_changed);
    EXPECT_TRUE(plan.log_level_changed);
    EXPECT_EQ(plan.effective, fresh);
    EXPECT_THAT(plan.applied,
                ElementsAre("workloads[0] (idle) parameters", "scenario (1 stage(s), repeat false)",
                            "latency.sample_every (1 -> 10)", "log.level (info -> warn)"));
}

TEST(PlanReload, a_weight_restarts_the_scenario_without_touching_parameters) {
    auto fresh = running();
    fresh.workloads[1].weight = 3;
    const auto plan = plan_reload(running(), fresh);
    EXPECT_TRUE(plan.scenario_changed);
    EXPECT_FALSE(plan.params_changed);
    EXPECT_THAT(plan.applied, ElementsAre("workloads[1] (r).weight (2 -> 3)"));
}

TEST(PlanReload, restart_only_keys_keep_their_running_values_and_are_reported) {
    auto fresh = running();
    fresh.server.listen = "127.0.0.1:9999";
    fresh.server.port = 9999;
    fresh.runtime.threads = 4;
    fresh.runtime.engine = config::engine_kind::asio;
    fresh.runtime.layout = config::layout_kind::shared;
    fresh.runtime.hand_off = config::hand_off_kind::fifo;
    fresh.runtime.timer_tick = std::chrono::microseconds(100);
    fresh.runtime.asio = {.executor = config::asio_executor_kind::typed,
                          .allocator = config::asio_allocator_kind::recycling,
                          .token = config::asio_token_kind::deferred};
    fresh.log.format = config::log_format::json;
    fresh.memory.limit = config::memory_limit_kind::bytes;
    fresh.memory.limit_bytes = 512ULL << 20;
    fresh.memory.headroom_bytes = 64ULL << 20;
    fresh.workloads[1].ring.ring_size = 20;
    fresh.latency.sample_every = 5;  // live, applied alongside
    const auto plan = plan_reload(running(), fresh);
    EXPECT_THAT(plan.restart_needed,
                ElementsAre("server.listen (127.0.0.1:9464 -> 127.0.0.1:9999)", "log.format (text -> json)",
                            "runtime.threads (2 -> 4)", "runtime.engine (lean -> asio)",
                            "runtime.layout (per_thread -> shared)", "runtime.timer_tick (1ms -> 100us)",
                            "runtime.hand_off (next -> fifo)", "runtime.asio.executor (any -> typed)",
                            "runtime.asio.token (use_awaitable -> deferred)", "memory.limit (auto -> 512MiB)",
                            "memory.headroom (10% -> 64MiB)", "workloads[1] (r).ring_size (10 -> 20)"));
    auto want = running();
    want.latency.sample_every = 5;
    EXPECT_EQ(plan.effective, want);
    EXPECT_THAT(plan.applied, ElementsAre("latency.sample_every (1 -> 5)"));
}

TEST(PlanReload, another_set_of_workloads_needs_a_restart_and_the_running_ones_stay_whole) {
    auto fresh = running();
    fresh.workloads[0].sleep.period = std::chrono::milliseconds(10);  // would be live, but the set changes
    fresh.workloads.pop_back();
    const auto plan = plan_reload(running(), fresh);
    EXPECT_THAT(plan.restart_needed, ElementsAre("workloads (idle (sleep), r (ring) -> idle (sleep))"));
    EXPECT_EQ(plan.effective.workloads, running().workloads);
    EXPECT_FALSE(plan.params_changed);

    auto renamed = running();
    renamed.workloads[1].name = "ring2";
    EXPECT_THAT(plan_reload(running(), renamed).restart_needed, ::testing::SizeIs(1));
    auto rekinded = running();
    rekinded.workloads[0].kind = config::workload_kind::yield;
    EXPECT_THAT(plan_reload(running(), rekinded).restart_needed, ::testing::SizeIs(1));
}

config::config running_io() {
    return config::load_string(R"(
workloads:
  - { name: conns, kind: echo, period: 10s, message: 64B }
  - { name: calls, kind: rpc, period: 1s, message: 1KiB, connections: 16 }
)");
}

TEST(PlanReload, the_periods_of_echo_and_rpc_apply_live) {
    auto fresh = running_io();
    fresh.workloads[0].echo.period = std::chrono::seconds(1);
    fresh.workloads[1].rpc.period = std::chrono::milliseconds(100);
    const auto plan = plan_reload(running_io(), fresh);
    EXPECT_THAT(plan.restart_needed, IsEmpty());
    EXPECT_TRUE(plan.params_changed);
    EXPECT_FALSE(plan.scenario_changed);
    EXPECT_EQ(plan.effective, fresh);
    EXPECT_THAT(plan.applied,
                ElementsAre("workloads[0] (conns) parameters", "workloads[1] (calls) parameters"));
}

TEST(PlanReload, message_sizes_and_connections_wait_for_a_restart) {
    auto fresh = running_io();
    fresh.workloads[0].echo.message = 4096;
    fresh.workloads[1].rpc.message = 100;
    fresh.workloads[1].rpc.connections = 64;
    const auto plan = plan_reload(running_io(), fresh);
    EXPECT_THAT(plan.restart_needed, ElementsAre("workloads[0] (conns).message (64B -> 4KiB)",
                                                 "workloads[1] (calls).message (1KiB -> 100B)",
                                                 "workloads[1] (calls).connections (16 -> 64)"));
    EXPECT_THAT(plan.applied, IsEmpty());
    EXPECT_FALSE(plan.params_changed);
    EXPECT_EQ(plan.effective, running_io());
}

TEST(PlanReload, a_live_period_applies_while_the_message_size_keeps_its_running_value) {
    auto fresh = running_io();
    fresh.workloads[1].rpc = {std::chrono::milliseconds(5), 32, 8};
    const auto plan = plan_reload(running_io(), fresh);
    EXPECT_THAT(plan.restart_needed, ElementsAre("workloads[1] (calls).message (1KiB -> 32B)",
                                                 "workloads[1] (calls).connections (16 -> 8)"));
    EXPECT_TRUE(plan.params_changed);
    EXPECT_THAT(plan.applied, ElementsAre("workloads[1] (calls) parameters"));
    auto want = running_io();
    want.workloads[1].rpc.period = std::chrono::milliseconds(5);
    EXPECT_EQ(plan.effective, want);
}

TEST(PlanReload, turning_an_echo_workload_into_rpc_needs_a_restart) {
    auto fresh = running_io();
    fresh.workloads[0].kind = config::workload_kind::rpc;
    const auto plan = plan_reload(running_io(), fresh);
    EXPECT_THAT(plan.restart_needed,
                ElementsAre("workloads (conns (echo), calls (rpc) -> conns (rpc), calls (rpc))"));
    EXPECT_EQ(plan.effective.workloads, running_io().workloads);
}

}  // namespace
}  // namespace corostorm::daemon
