// The ready queue's next slot: a task handed a message runs as soon as its
// sender suspends, and a chain of hand-offs cannot starve the ready queue or
// the timers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/channel.h"
#include "runtime/clock.h"
#include "runtime/join.h"
#include "runtime/pool.h"

namespace corostorm::runtime {
namespace {

using namespace std::chrono_literals;

// Who ran, in the order the worker resumed them: yielders log 0, 1, 2; the
// ping-pong pair logs 'A' and 'B'; a joining parent logs 'P'. One worker
// writes it; the test reads it after the pool has stopped.
struct scenario {
    std::vector<int> log;
    channel to_a;
    channel to_b;
    std::atomic<bool> done{false};
    bool stop_pair = false;  // set by a task on the same worker
    std::uint64_t hops = 0;  // pair hand-offs made
};

task yielder(task_env, scenario& s, int id, int rounds) {
    for (int r = 0; r < rounds; ++r) {
        co_await yield_now{};
        s.log.push_back(id);
    }
    co_return task_outcome::ok;
}

// The pair passes a counter back and forth until `limit` hops or stop_pair.
task player_b(task_env, scenario& s) {
    for (;;) {
        const std::uint64_t v = co_await s.to_b.receive();
        s.log.push_back('B');
        if (v == UINT64_MAX) co_return task_outcome::ok;
        s.to_a.send(v + 1);
    }
}

task alarm(task_env, scenario& s, std::uint64_t deadline_ns);

// With `alarm_at`, A sets a 1 ms alarm at that hop and the pair goes on until
// it fires: only a worker that leaves the timers their turn ends it.
task player_a(task_env env, scenario& s, std::uint64_t limit, std::uint64_t alarm_at = UINT64_MAX) {
    s.to_b.send(0);
    for (;;) {
        const std::uint64_t v = co_await s.to_a.receive();
        s.log.push_back('A');
        s.hops = v;
        if (v == alarm_at) alarm(env, s, now_ns() + 1'000'000);
        if (v >= limit || s.stop_pair) {
            s.to_b.send(UINT64_MAX);
            s.done = true;
            co_return task_outcome::ok;
        }
        s.to_b.send(v + 1);
    }
}

task alarm(task_env, scenario& s, std::uint64_t deadline_ns) {
    co_await sleep_until{deadline_ns};
    s.stop_pair = true;
    co_return task_outcome::ok;
}

task child(task_env, join_counter& join) {
    co_await yield_now{};
    join.child_done(1);
    co_return task_outcome::ok;
}

task parent(task_env env, scenario& s) {
    join_counter join(1);
    child(env.child(), join);
    co_await join.wait();
    s.log.push_back('P');
    s.done = true;
    co_return task_outcome::ok;
}

// One unit: the scenario's tasks, spawned once.
struct scenario_factory final : task_factory {
    enum class kind { pair_beside_yielders, pair_beside_a_timer, join_beside_yielders } what;
    scenario s;
    bool spawned = false;
    explicit scenario_factory(kind k) : what(k) {}

    void spawn(task_env env, worker&) override {
        if (std::exchange(spawned, true)) return;
        switch (what) {
            case kind::pair_beside_yielders:
                for (int id = 0; id < 3; ++id) yielder(env.child(), s, id, 1000);
                player_b(env.child(), s);
                player_a(env.child(), s, 8 * worker::next_chain_limit);
                break;
            case kind::pair_beside_a_timer:
                player_b(env.child(), s);
                player_a(env.child(), s, UINT64_MAX, 4 * worker::next_chain_limit + 1);
                break;
            case kind::join_beside_yielders:
                for (int id = 0; id < 3; ++id) yielder(env.child(), s, id, 2);
                parent(env.child(), s);
                break;
        }
    }
};

void run(scenario_factory& f) {
    pool p(1, {&f}, {});
    p.start();
    p.set_targets({target_ramp{0, 1, now_ns(), 0}});
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!f.s.done && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    ASSERT_TRUE(f.s.done) << "the scenario did not finish";
    ASSERT_TRUE(p.stop(20s));
}

// Lengths of the maximal runs of pair entries in the log (yielders between).
std::vector<std::size_t> pair_runs(const std::vector<int>& log) {
    std::vector<std::size_t> runs;
    std::size_t run = 0;
    for (const int e : log) {
        if (e == 'A' || e == 'B') {
            ++run;
        } else if (run != 0) {
            runs.push_back(run);
            run = 0;
        }
    }
    if (run != 0) runs.push_back(run);
    return runs;
}

TEST(NextSlot, a_handed_off_task_runs_next_and_a_chain_yields_the_worker_at_its_bound) {
    scenario_factory f(scenario_factory::kind::pair_beside_yielders);
    run(f);
    const std::vector<std::size_t> runs = pair_runs(f.s.log);
    // FIFO alone would interleave a yielder between every hop (runs of 1);
    // an unbounded slot would run the whole ping-pong in one go.
    ASSERT_GE(runs.size(), 5u);
    for (std::size_t i = 0; i + 1 < runs.size(); ++i) {
        EXPECT_EQ(runs[i], worker::next_chain_limit + 1) << "run " << i;
    }
    EXPECT_LE(runs.back(), worker::next_chain_limit + 1);
    // Between two runs every yielder had its turn: the queue was not starved.
    std::size_t i = 0;
    const auto& log = f.s.log;
    while (i < log.size() && log[i] != 'A' && log[i] != 'B') ++i;
    for (std::size_t r = 0; r + 1 < runs.size(); ++r) {
        i += runs[r];
        std::vector<int> between;
        while (i < log.size() && log[i] != 'A' && log[i] != 'B') between.push_back(log[i++]);
        std::sort(between.begin(), between.end());
        EXPECT_EQ(between, (std::vector<int>{0, 1, 2})) << "after run " << r;
    }
}

TEST(NextSlot, a_pair_ping_ponging_forever_leaves_the_timers_their_turn) {
    scenario_factory f(scenario_factory::kind::pair_beside_a_timer);
    run(f);
    // The alarm, set at hop 4 x limit + 1, fired while the pair ran chains of
    // hand-offs, and ended it.
    EXPECT_TRUE(f.s.stop_pair);
    EXPECT_GT(f.s.hops, std::uint64_t{4 * worker::next_chain_limit + 1});
}

TEST(NextSlot, a_parent_whose_last_child_finished_runs_before_tasks_queued_earlier) {
    scenario_factory f(scenario_factory::kind::join_beside_yielders);
    run(f);
    // Queued: yielders 0, 1, 2, then the child. The child's end hands the
    // parent the join, so the parent runs before the yielders' second round.
    const std::vector<int> expected{0, 1, 2, 'P', 0, 1, 2};
    EXPECT_EQ(f.s.log, expected);
}

}  // namespace
}  // namespace corostorm::runtime
