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

#include "runtime/awaiters.h"
#include "runtime/channel.h"
#include "runtime/clock.h"
#include "runtime/join.h"
#include "runtime/pool.h"
#include "runtime/task_factory.h"

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
    bool stop_pair = false;      // set by a task on the same worker
    std::uint64_t hops = 0;      // pair hand-offs made
    std::uint64_t first_ns = 0;  // steady clock at A's first and last hop
    std::uint64_t last_ns = 0;
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
        if (v == 1) s.first_ns = now_ns();
        if (v == alarm_at) alarm(env, s, now_ns() + 1'000'000);
        if (v >= limit || s.stop_pair) {
            s.last_ns = now_ns();
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

// A small turn, so that chains end often: the turn bounds a chain.
constexpr std::size_t turn = 256;
constexpr int yielders = 3;

// One unit: the scenario's tasks, spawned once.
struct scenario_factory final : task_factory {
    enum class kind { pair_beside_yielders, pair_beside_a_timer, join_beside_yielders, pair_alone } what;
    scenario s;
    bool spawned = false;
    explicit scenario_factory(kind k) : what(k) {}

    void spawn(task_env env, worker&) override {
        if (std::exchange(spawned, true)) return;
        switch (what) {
            case kind::pair_beside_yielders:
                for (int id = 0; id < yielders; ++id) yielder(env.child(), s, id, 1000);
                player_b(env.child(), s);
                player_a(env.child(), s, 8 * turn);
                break;
            case kind::pair_beside_a_timer:
                player_b(env.child(), s);
                player_a(env.child(), s, UINT64_MAX, 4 * turn + 1);
                break;
            case kind::pair_alone:
                player_b(env.child(), s);
                player_a(env.child(), s, 1'000'000);
                break;
            case kind::join_beside_yielders:
                for (int id = 0; id < yielders; ++id) yielder(env.child(), s, id, 2);
                parent(env.child(), s);
                break;
        }
    }
};

// Runs the scenario on one worker; `after` sees the pool once it has stopped.
template <typename After = void (*)(pool&)>
void run(
    scenario_factory& f, std::size_t resume_batch = turn, After after = [](pool&) {}) {
    worker_options options;
    options.resume_batch = resume_batch;
    pool p(1, {&f}, options);
    p.start();
    p.set_targets({target_ramp{0, 1, now_ns(), 0}});
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!f.s.done && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    ASSERT_TRUE(f.s.done) << "the scenario did not finish";
    ASSERT_TRUE(p.stop(20s));
    after(p);
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

TEST(NextSlot, a_handed_off_task_runs_next_and_a_chain_yields_the_worker_at_the_end_of_the_turn) {
    scenario_factory f(scenario_factory::kind::pair_beside_yielders);
    run(f);
    const std::vector<std::size_t> runs = pair_runs(f.s.log);
    // FIFO alone would interleave the yielders between every hop (runs of 1);
    // an unbounded slot would run the whole ping-pong in one go. Each turn
    // resumes the yielders queued ahead of the pair, then the pair's chain
    // takes the rest of the turn.
    ASSERT_GE(runs.size(), 5u);
    for (std::size_t i = 0; i + 1 < runs.size(); ++i) EXPECT_EQ(runs[i], turn - yielders) << "run " << i;
    EXPECT_LE(runs.back(), turn - yielders);
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
    // The alarm, set at hop 4 x turn + 1, fired while the pair ran chains of
    // hand-offs, and ended it.
    EXPECT_TRUE(f.s.stop_pair);
    EXPECT_GT(f.s.hops, std::uint64_t{4 * turn + 1});
}

TEST(NextSlot, a_handed_off_task_waits_from_the_end_of_its_senders_resume_not_from_a_stale_clock) {
    // The worker reads the clock every 64 resumes; a hand-off is stamped with
    // the cached value. Were a refresh between the sender and the task it
    // handed to charged to the hand-off, every 64th hop would record the time
    // of the 64 before it, and the recorded waits would add up to about the
    // whole ping-pong. Only the ends of turns may add anything: the task
    // handed off last in a turn waits for the next one (~20 us a turn here,
    // a fifth of the ping-pong at 4096 resumes a turn).
    scenario_factory f(scenario_factory::kind::pair_alone);
    std::uint64_t waited_ns = 0;
    std::uint64_t recorded = 0;
    run(f, worker_options{}.resume_batch, [&](pool& p) {
        const auto& h =
            p.at(0).shard().workload(0).latency[static_cast<std::size_t>(metrics::latency_source::ready)];
        waited_ns = h.sum_ns();
        for (std::size_t i = 0; i < metrics::latency_histogram::bucket_count; ++i) recorded += h.bucket(i);
    });
    EXPECT_GE(recorded, 1'000'000u) << "every hop is recorded";
    const std::uint64_t pinged_ns = f.s.last_ns - f.s.first_ns;
    EXPECT_LT(waited_ns * 2, pinged_ns)
        << "waits " << waited_ns << " ns over a ping-pong of " << pinged_ns << " ns";
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
