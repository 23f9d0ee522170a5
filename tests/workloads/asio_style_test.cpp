// The runtime.asio styles: each option runs the code it names (the executor
// type Asio sees, the allocator its operations come from), and the
// workloads keep their semantics in every style.
#include <gtest/gtest.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <string>
#include <type_traits>

#include "runtime/asio_task.h"
#include "runtime/clock.h"
#include "runtime/pool.h"
#include "support/wait.h"
#include "workloads/sleep.h"
#include "workloads/yield.h"

namespace corostorm::workloads {
namespace {

using namespace std::chrono_literals;
using testing::wait_for;
namespace asio = boost::asio;
using runtime::asio_allocator_kind;
using runtime::asio_executor_kind;
using runtime::asio_token_kind;

struct style {
    asio_executor_kind executor;
    asio_allocator_kind allocator;
    asio_token_kind token;
};

runtime::worker_options options_of(style s) {
    runtime::worker_options o;
    o.asio_executor = s.executor;
    o.asio_allocator = s.allocator;
    o.asio_token = s.token;
    return o;
}

// What with_asio_style hands a body: "executor/ops".
std::string chosen(runtime::worker& w) {
    std::string out;
    runtime::with_asio_style(w, [&]<class Executor, class Ops>(const Executor&, Ops) {
        if constexpr (std::is_same_v<Executor, asio::any_io_executor>) out = "any";
        if constexpr (std::is_same_v<Executor, asio::io_context::executor_type>) out = "io_context";
        if constexpr (std::is_same_v<Executor, asio::strand<asio::io_context::executor_type>>) out = "strand";
        if constexpr (std::is_same_v<Ops, runtime::asio_recycled_ops>) out += "/recycled";
        if constexpr (std::is_same_v<Ops, runtime::asio_worker_ops>) out += "/worker";
        if constexpr (std::is_same_v<Ops, runtime::asio_deferred_ops>) out += "/deferred";
    });
    return out;
}

TEST(AsioStyle, each_option_picks_its_executor_type_and_operations) {
    const auto per_thread = [](style s) {
        runtime::worker w(0, 1, {}, options_of(s));
        return chosen(w);
    };
    using E = asio_executor_kind;
    using A = asio_allocator_kind;
    using T = asio_token_kind;
    EXPECT_EQ(per_thread({E::any, A::recycling, T::use_awaitable}), "any/recycled");
    EXPECT_EQ(per_thread({E::typed, A::recycling, T::use_awaitable}), "io_context/recycled");
    EXPECT_EQ(per_thread({E::any, A::worker, T::use_awaitable}), "any/worker");
    EXPECT_EQ(per_thread({E::typed, A::worker, T::use_awaitable}), "io_context/worker");
    EXPECT_EQ(per_thread({E::typed, A::recycling, T::deferred}), "io_context/deferred");
    asio::io_context shared;
    runtime::worker typed(0, 1, {}, options_of({E::typed, A::recycling, T::use_awaitable}), &shared);
    EXPECT_EQ(chosen(typed), "strand/recycled");
    runtime::worker any(0, 1, {}, options_of({E::any, A::recycling, T::deferred}), &shared);
    EXPECT_EQ(chosen(any), "any/deferred");
}

// One worker, 1000 sleepers that sleep for a second: with the worker
// allocator each holds exactly one timer wait operation from the worker's
// slab, and the slab's own statistics see it; the operation of a typed
// sleeper is smaller (its handler and work guard hold an 8-byte executor
// instead of any_io_executor). The recycling allocator and deferred take
// nothing from the slab.
std::uint64_t slab_bytes_of_1000_sleepers(style s, std::uint64_t* blocks) {
    const sleep_options sleep_params{.period_ns = 1'000'000'000};
    asio_workload<sleepers> sleep(sleep_params);
    runtime::pool p(1, {&sleep}, options_of(s));
    p.start();
    p.set_targets({runtime::target_ramp{0, 1000, runtime::now_ns(), 0}});
    const runtime::frame_allocator& slab = p.at(0).allocator();
    const auto& shard = p.at(0).shard().workload(0);
    EXPECT_TRUE(wait_for([&] { return shard.live() == 1000; }));
    // A sleeper that is waking holds no wait for a moment: read both
    // figures when every one of the 1000 is waiting.
    std::uint64_t bytes = 0;
    if (s.allocator == asio_allocator_kind::worker) {
        EXPECT_TRUE(wait_for([&] {
            bytes = slab.untracked_bytes();
            return slab.untracked_blocks() == 1000;
        }));
    }
    *blocks = slab.untracked_blocks();
    if (s.allocator != asio_allocator_kind::worker) bytes = slab.untracked_bytes();
    EXPECT_TRUE(p.stop(10s));
    EXPECT_EQ(slab.untracked_blocks(), 0u) << "every operation went back to the slab";
    return bytes;
}

TEST(AsioStyle, the_worker_allocator_holds_each_sleepers_wait_and_typed_makes_it_smaller) {
    using E = asio_executor_kind;
    using A = asio_allocator_kind;
    using T = asio_token_kind;
    std::uint64_t blocks = 0;
    const std::uint64_t any = slab_bytes_of_1000_sleepers({E::any, A::worker, T::use_awaitable}, &blocks);
    EXPECT_EQ(blocks, 1000u);
    const std::uint64_t typed = slab_bytes_of_1000_sleepers({E::typed, A::worker, T::use_awaitable}, &blocks);
    EXPECT_EQ(blocks, 1000u);
    EXPECT_GT(any, 0u);
    EXPECT_LT(typed, any) << "a typed wait operation is smaller: " << typed / 1000 << " B against "
                          << any / 1000 << " B";
    EXPECT_EQ(slab_bytes_of_1000_sleepers({E::typed, A::recycling, T::use_awaitable}, &blocks), 0u);
    EXPECT_EQ(blocks, 0u);
    EXPECT_EQ(slab_bytes_of_1000_sleepers({E::typed, A::recycling, T::deferred}, &blocks), 0u);
    EXPECT_EQ(blocks, 0u);
}

class AsioStyles : public ::testing::TestWithParam<style> {};

TEST_P(AsioStyles, sleepers_wake_every_round_and_finish_ok) {
    const sleep_options sleep_params{.period_ns = 5'000'000, .rounds = 4};
    asio_workload<sleepers> sleep(sleep_params);
    runtime::pool p(1, {&sleep}, options_of(GetParam()));
    p.start();
    p.set_targets({runtime::target_ramp{0, 50, runtime::now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    ASSERT_TRUE(wait_for([&] { return s.completed[0].read() >= 100; }));
    EXPECT_TRUE(p.stop(10s));
    EXPECT_EQ(s.completed[1].read(), 0u);
    EXPECT_EQ(s.completed[0].read() + s.completed[2].read(), s.spawned.read());
    EXPECT_GE(s.resumes.read(), 4 * s.completed[0].read());
    EXPECT_LE(s.resumes.read(), 4 * (s.completed[0].read() + s.completed[2].read()));
    EXPECT_EQ(p.at(0).allocator().untracked_blocks(), 0u);
}

TEST_P(AsioStyles, yielders_and_cpu_slices_count_every_resume) {
    const yield_options yield_params{.rounds = 200, .work_ns = 0};
    asio_workload<yielders> yield(yield_params);
    // cpu: yields with the slice as their work
    const yield_options cpu_params{.rounds = 50, .work_ns = 1000};
    asio_workload<yielders> cpu(cpu_params);
    runtime::pool p(1, {&yield, &cpu}, options_of(GetParam()));
    p.start();
    p.set_targets({runtime::target_ramp{0, 10, runtime::now_ns(), 0},
                   runtime::target_ramp{0, 4, runtime::now_ns(), 0}});
    const auto& y = p.at(0).shard().workload(0);
    const auto& c = p.at(0).shard().workload(1);
    ASSERT_TRUE(wait_for([&] { return y.completed[0].read() >= 30 && c.completed[0].read() >= 8; }));
    EXPECT_TRUE(p.stop(10s));
    EXPECT_GE(y.resumes.read(), 200 * y.completed[0].read());
    EXPECT_LE(y.resumes.read(), 200 * (y.completed[0].read() + y.completed[2].read()));
    EXPECT_GE(c.resumes.read(), 50 * c.completed[0].read());
    EXPECT_EQ(y.completed[1].read() + c.completed[1].read(), 0u);
    EXPECT_EQ(p.at(0).allocator().untracked_blocks(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Options, AsioStyles,
    ::testing::Values(
        style{asio_executor_kind::any, asio_allocator_kind::recycling, asio_token_kind::use_awaitable},
        style{asio_executor_kind::typed, asio_allocator_kind::recycling, asio_token_kind::use_awaitable},
        style{asio_executor_kind::any, asio_allocator_kind::worker, asio_token_kind::use_awaitable},
        style{asio_executor_kind::typed, asio_allocator_kind::worker, asio_token_kind::use_awaitable},
        style{asio_executor_kind::typed, asio_allocator_kind::recycling, asio_token_kind::deferred}),
    [](const ::testing::TestParamInfo<style>& p) {
        return std::string(p.param.executor == asio_executor_kind::typed ? "typed" : "any") +
               (p.param.allocator == asio_allocator_kind::worker ? "_worker" : "_recycling") +
               (p.param.token == asio_token_kind::deferred ? "_deferred" : "_use_awaitable");
    });

}  // namespace
}  // namespace corostorm::workloads
