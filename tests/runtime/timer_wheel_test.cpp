#include "runtime/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace corostorm::runtime {
namespace {

constexpr std::uint64_t tick = 1'000'000;           // 1 ms
constexpr std::uint64_t start = 1'000'000'000'000;  // an arbitrary steady-clock time

struct fired_timer {
    const timer_node* node;
    std::uint64_t at_ns;
};

// Polls the wheel from `from` to `to` in steps of `step`, recording when each timer fired.
std::vector<fired_timer> run(timer_wheel& wheel, std::uint64_t from, std::uint64_t to, std::uint64_t step) {
    std::vector<fired_timer> fired;
    for (std::uint64_t now = from; now <= to; now += step) {
        wheel.poll(now, SIZE_MAX, [&](timer_node* n) { fired.push_back({n, now}); });
    }
    return fired;
}

TEST(TimerWheel, fires_nothing_before_the_deadline_tick) {
    timer_wheel wheel(start, tick);
    timer_node n{nullptr, start + 5 * tick + 1};  // rounds up to tick 6
    wheel.insert(&n);
    const auto fired = run(wheel, start, start + 5 * tick + tick - 1, tick / 4);
    EXPECT_TRUE(fired.empty());
    EXPECT_EQ(wheel.size(), 1u);
    const auto later = run(wheel, start + 6 * tick, start + 6 * tick, 1);
    ASSERT_EQ(later.size(), 1u);
    EXPECT_GE(later[0].at_ns, n.deadline_ns);
    EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheel, fires_in_deadline_order_across_levels_and_never_early) {
    timer_wheel wheel(start, tick);
    // Deadlines from 0 to ~300 s: levels 0 and 1 are used, and timers move
    // down before they fire (the reference test below reaches every level).
    std::mt19937_64 rng(42);
    std::vector<timer_node> nodes(20'000);
    for (auto& n : nodes) {
        n.deadline_ns = start + rng() % 300'000'000'000ull;
        wheel.insert(&n);
    }
    const auto fired = run(wheel, start, start + 301'000'000'000ull, tick);
    ASSERT_EQ(fired.size(), nodes.size());
    std::uint64_t previous_tick = 0;
    for (const auto& f : fired) {
        EXPECT_GE(f.at_ns, f.node->deadline_ns) << "fired early";
        EXPECT_LT(f.at_ns - f.node->deadline_ns, 2 * tick) << "fired more than a tick late";
        const std::uint64_t t = (f.node->deadline_ns + tick - 1) / tick;
        EXPECT_GE(t, previous_tick) << "a later batch fired before an earlier one";
        previous_tick = t;
    }
}

// The reference: a sorted multimap from deadline tick to node. Random
// inserts at distances that reach every level, time advancing in small steps
// and in jumps, polls with random budgets, and fired timers going back in
// (some already due, which must fire in the same poll): after every poll the
// wheel must have fired exactly what the reference says was due, no more.
TEST(TimerWheel, matches_a_sorted_reference_under_random_inserts_reinserts_and_polls) {
    std::mt19937_64 rng(7);
    timer_wheel wheel(start, tick);
    std::vector<timer_node> nodes(40'000);
    std::multimap<std::uint64_t, const timer_node*> reference;  // deadline tick -> node
    const auto tick_of = [](std::uint64_t ns) { return (ns + tick - 1) / tick; };
    // Distances across the level boundaries (level 0 holds 1024 ticks, level 1 1024 x 1024 ...).
    const std::uint64_t spans[] = {1,
                                   1023,
                                   1025,
                                   64 * 1024,
                                   std::uint64_t{1} << 20,
                                   (std::uint64_t{1} << 20) + 5,
                                   1 << 26,
                                   std::uint64_t{1} << 32,
                                   std::uint64_t{1} << 40};
    std::size_t next = 0;
    std::uint64_t now = start;
    std::size_t polls = 0;
    while (next < nodes.size() || !reference.empty()) {
        for (int k = 0; k < 3 && next < nodes.size(); ++k, ++next) {
            const std::uint64_t span = spans[rng() % std::size(spans)] * tick;
            nodes[next].deadline_ns = now - tick + rng() % span;
            wheel.insert(&nodes[next]);
            reference.emplace(tick_of(nodes[next].deadline_ns), &nodes[next]);
        }
        if (next < nodes.size()) {
            now += rng() % 50 == 0 ? rng() % ((std::uint64_t{1} << 23) * tick) : rng() % (3 * tick);
        } else {
            // Everything inserted: jump to the next reference deadline (or a bit past it).
            now = std::max(now, reference.begin()->first * tick + rng() % (3 * tick));
        }
        const std::size_t budget = 1 + rng() % 64;
        std::multiset<const timer_node*> got;
        std::multiset<const timer_node*> want;
        std::set<const timer_node*> reinserted;
        const auto on_fire = [&](timer_node* n) {
            got.insert(n);
            // A third of the fired timers go back in once per poll, sometimes already due.
            if (rng() % 3 == 0 && reinserted.insert(n).second) {
                n->deadline_ns = now - 2 * tick + rng() % (spans[rng() % 4] * tick);
                wheel.insert(n);
                reference.emplace(tick_of(n->deadline_ns), n);
            }
        };
        while (wheel.poll(now, budget, on_fire) == budget || wheel.behind()) {
        }
        ++polls;
        // Due in the reference: everything with a tick <= now, including the
        // re-inserted timers that were already due.
        while (!reference.empty() && reference.begin()->first <= now / tick) {
            want.insert(reference.begin()->second);
            reference.erase(reference.begin());
        }
        ASSERT_EQ(got, want) << "poll " << polls << " at " << (now - start) / tick << " ticks";
        ASSERT_EQ(wheel.size(), reference.size());
    }
    EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheel, a_timer_within_a_second_is_linked_once_a_ten_second_one_moves_once) {
    timer_wheel wheel(start, tick);
    timer_node near{nullptr, start + 1000 * tick};   // level 0: its firing slot at once
    timer_node far{nullptr, start + 10'000 * tick};  // level 1: moves down once
    wheel.insert(&near);
    EXPECT_EQ(wheel.links(), 1u);
    run(wheel, start, start + 1000 * tick, tick);
    EXPECT_EQ(wheel.links(), 1u) << "firing a level-0 slot must not move its timers";
    const std::uint64_t before = wheel.links();
    wheel.insert(&far);
    const auto fired = run(wheel, start + 1001 * tick, start + 10'000 * tick, tick);
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0].at_ns, far.deadline_ns);
    EXPECT_EQ(wheel.links() - before, 2u);  // inserted on level 1, moved to level 0 once
}

TEST(TimerWheel, a_dense_upper_slot_moves_down_spread_over_the_ticks_before_it) {
    // 300k timers over ticks 2,000 .. 12,000: each 512-tick level-1 slot holds
    // ~15k of them. Moved at its start in one go, one poll would move them all;
    // spread, each poll moves a share of at most move_floor, and every timer
    // still fires in its own tick.
    timer_wheel wheel(start, tick);
    std::vector<timer_node> nodes(300'000);
    std::mt19937_64 rng(11);
    for (auto& n : nodes) {
        n.deadline_ns = start + (2000 + rng() % 10'000) * tick;
        wheel.insert(&n);
    }
    std::uint64_t most_moved = 0;
    std::size_t fired = 0;
    for (std::uint64_t now = start; now <= start + 12'001 * tick; now += tick) {
        const std::uint64_t before = wheel.moves();
        wheel.poll(now, SIZE_MAX, [&](timer_node* n) {
            ++fired;
            EXPECT_GE(now, n->deadline_ns) << "fired early";
            EXPECT_LT(now - n->deadline_ns, tick) << "fired after its tick";
        });
        EXPECT_FALSE(wheel.behind());
        most_moved = std::max(most_moved, wheel.moves() - before);
    }
    EXPECT_EQ(fired, nodes.size());
    EXPECT_EQ(wheel.moves(), nodes.size()) << "each timer waits on level 1 and moves down once";
    EXPECT_LE(most_moved, timer_wheel::move_floor);
    EXPECT_GT(most_moved, 0u);
}

TEST(TimerWheel, a_poll_that_falls_behind_moves_at_most_the_ceiling_and_catches_up) {
    // 50k timers in one level-1 slot and a poll long after their deadline
    // (a worker held elsewhere): each poll moves at most the ceiling, says it
    // is behind, fires nothing early, and repeated polls fire them all.
    timer_wheel wheel(start, tick);
    std::vector<timer_node> nodes(50'000);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        nodes[i].deadline_ns = start + (5000 + i % 300) * tick;
        wheel.insert(&nodes[i]);
    }
    const std::uint64_t now = start + 6000 * tick;
    std::size_t fired = 0;
    std::size_t polls = 0;
    bool was_behind = false;
    do {
        const std::uint64_t before = wheel.moves();
        wheel.poll(now, SIZE_MAX, [&](timer_node* n) {
            ++fired;
            EXPECT_GE(now, n->deadline_ns);
        });
        EXPECT_LE(wheel.moves() - before, timer_wheel::move_ceiling);
        was_behind = was_behind || wheel.behind();
        ASSERT_LT(++polls, 100u);
    } while (wheel.behind());
    EXPECT_TRUE(was_behind);
    EXPECT_GE(polls, nodes.size() / timer_wheel::move_ceiling);
    EXPECT_EQ(fired, nodes.size());
    EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheel, cancelling_everything_mid_run_hands_out_each_pending_timer_once) {
    // Shutdown cancels sleeping tasks by draining the wheel: every timer still
    // pending, on any level or already due, comes out exactly once, and none of
    // the ones that fired before does.
    timer_wheel wheel(start, tick);
    std::vector<timer_node> nodes(5000);
    std::mt19937_64 rng(11);
    for (auto& n : nodes) {
        n.deadline_ns = start + rng() % (std::uint64_t{1} << 21) * tick;
        wheel.insert(&n);
    }
    std::set<const timer_node*> fired;
    for (std::uint64_t now = start; now < start + 200'000 * tick; now += 977 * tick) {
        wheel.poll(now, 100, [&](timer_node* n) { EXPECT_TRUE(fired.insert(n).second); });
    }
    ASSERT_GT(fired.size(), 0u);
    ASSERT_LT(fired.size(), nodes.size());
    std::set<const timer_node*> drained;
    std::size_t total = 0;
    while (const std::size_t n = wheel.drain(333, [&](timer_node* node) {
        EXPECT_TRUE(drained.insert(node).second) << "handed out twice";
        EXPECT_EQ(fired.count(node), 0u) << "fired and then cancelled";
    })) {
        total += n;
    }
    EXPECT_EQ(total, nodes.size() - fired.size());
    EXPECT_EQ(fired.size() + drained.size(), nodes.size());
    EXPECT_TRUE(wheel.empty());
    EXPECT_FALSE(wheel.next_due_ns().has_value());
}

TEST(TimerWheel, a_fired_timer_may_insert_itself_again) {
    timer_wheel wheel(start, tick);
    timer_node n{nullptr, start + tick};
    wheel.insert(&n);
    int fires = 0;
    for (std::uint64_t now = start; now <= start + 10 * tick; now += tick) {
        wheel.poll(now, SIZE_MAX, [&](timer_node* node) {
            ++fires;
            node->deadline_ns += tick;
            wheel.insert(node);
        });
    }
    EXPECT_EQ(fires, 10);
    EXPECT_EQ(wheel.size(), 1u);
}

TEST(TimerWheel, poll_stops_at_the_budget_and_continues_later) {
    timer_wheel wheel(start, tick);
    std::vector<timer_node> nodes(100);
    for (auto& n : nodes) {
        n.deadline_ns = start + tick;
        wheel.insert(&n);
    }
    std::size_t count = 0;
    const auto count_fire = [&](timer_node*) { ++count; };
    EXPECT_EQ(wheel.poll(start + tick, 30, count_fire), 30u);
    EXPECT_EQ(wheel.poll(start + tick, 30, count_fire), 30u);
    EXPECT_EQ(wheel.poll(start + tick, 1000, count_fire), 40u);
    EXPECT_EQ(count, 100u);
    EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheel, next_due_reports_the_earliest_batch) {
    timer_wheel wheel(start, tick);
    EXPECT_FALSE(wheel.next_due_ns().has_value());
    timer_node a{nullptr, start + 3 * tick};
    timer_node b{nullptr, start + 40 * tick - 5};
    wheel.insert(&b);
    wheel.insert(&a);
    ASSERT_TRUE(wheel.next_due_ns().has_value());
    EXPECT_EQ(*wheel.next_due_ns(), start + 3 * tick);
    wheel.poll(start + 3 * tick, SIZE_MAX, [](timer_node*) {});
    EXPECT_EQ(*wheel.next_due_ns(), start + 40 * tick);
}

TEST(TimerWheel, drain_hands_out_every_timer_once_from_every_level) {
    timer_wheel wheel(start, tick);
    std::vector<timer_node> nodes(3000);
    std::mt19937_64 rng(3);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        // Due now, on level 0, level 1 and far above.
        const std::uint64_t spans[] = {1, 1000, 1'000'000, std::uint64_t{1} << 40};
        nodes[i].deadline_ns = start + rng() % (spans[i % 4] * tick);
        wheel.insert(&nodes[i]);
    }
    const std::uint64_t links = wheel.links();
    std::set<const timer_node*> out;
    std::size_t total = 0;
    while (const std::size_t n = wheel.drain(100, [&](timer_node* node) {
        EXPECT_TRUE(out.insert(node).second) << "handed out twice";
        EXPECT_EQ(node->next, nullptr);
    })) {
        total += n;
    }
    EXPECT_EQ(total, nodes.size());
    EXPECT_EQ(out.size(), nodes.size());
    EXPECT_EQ(wheel.links(), links) << "draining moves no timer down a level";
    EXPECT_TRUE(wheel.empty());
}

TEST(TimerWheel, far_deadlines_beyond_the_span_never_fire_early) {
    timer_wheel wheel(start, tick);
    timer_node n{nullptr, start + (timer_wheel::max_ticks + 10) * tick};
    wheel.insert(&n);
    std::size_t fired = 0;
    wheel.poll(start + (timer_wheel::max_ticks - 1) * tick, SIZE_MAX, [&](timer_node*) { ++fired; });
    EXPECT_EQ(fired, 0u);
    wheel.poll(n.deadline_ns, SIZE_MAX, [&](timer_node*) { ++fired; });
    EXPECT_EQ(fired, 1u);
}

}  // namespace
}  // namespace corostorm::runtime
