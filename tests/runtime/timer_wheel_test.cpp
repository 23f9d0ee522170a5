#include "runtime/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
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
    // Deadlines from 0 to ~300 s: every level up to 4 is used, and timers
    // move down through the levels before they fire.
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

TEST(TimerWheel, matches_a_sorted_reference_under_random_inserts_and_polls) {
    std::mt19937_64 rng(7);
    timer_wheel wheel(start, tick);
    std::vector<timer_node> nodes(50'000);
    std::multimap<std::uint64_t, const timer_node*> reference;  // deadline tick -> node
    std::size_t next = 0;
    std::uint64_t now = start;
    std::size_t fired_total = 0;
    while (fired_total < nodes.size()) {
        // Insert a few timers at various distances, some in the past.
        for (int k = 0; k < 3 && next < nodes.size(); ++k, ++next) {
            const std::uint64_t spans[] = {tick, 64 * tick, 4096 * tick, 262'144 * tick};
            const std::uint64_t span = spans[rng() % 4];
            nodes[next].deadline_ns = now - tick + rng() % span;
            wheel.insert(&nodes[next]);
            reference.emplace((nodes[next].deadline_ns + tick - 1) / tick, &nodes[next]);
        }
        now += rng() % (next < nodes.size() ? 3 * tick : 5000 * tick);
        std::vector<const timer_node*> got;
        wheel.poll(now, SIZE_MAX, [&](timer_node* n) { got.push_back(n); });
        std::vector<const timer_node*> want;
        while (!reference.empty() && reference.begin()->first <= now / tick) {
            want.push_back(reference.begin()->second);
            reference.erase(reference.begin());
        }
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        ASSERT_EQ(got, want) << "at " << (now - start) / tick << " ticks";
        fired_total += got.size();
        ASSERT_EQ(wheel.size(), reference.size());
    }
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

TEST(TimerWheel, drain_hands_out_every_timer_earliest_first) {
    timer_wheel wheel(start, tick);
    std::vector<timer_node> nodes(1000);
    std::mt19937_64 rng(3);
    for (auto& n : nodes) {
        n.deadline_ns = start + rng() % 100'000'000'000ull;
        wheel.insert(&n);
    }
    std::vector<std::uint64_t> order;
    EXPECT_EQ(
        wheel.drain(SIZE_MAX, [&](timer_node* n) { order.push_back((n->deadline_ns + tick - 1) / tick); }),
        nodes.size());
    EXPECT_TRUE(wheel.empty());
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
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
