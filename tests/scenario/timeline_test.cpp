#include "scenario/timeline.h"

#include <gtest/gtest.h>

#include <numeric>

namespace corostorm::scenario {
namespace {

constexpr std::uint64_t s = 1'000'000'000;

std::vector<stage> default_like() {
    return {{"ramp", 1'000'000, 30 * s}, {"hold", std::nullopt, 600 * s}, {"drain", 0, 10 * s}};
}

TEST(SplitByWeight, parts_follow_weights_and_add_up) {
    EXPECT_EQ(split_by_weight(10, {1, 1}), (std::vector<std::uint64_t>{5, 5}));
    EXPECT_EQ(split_by_weight(10, {3, 1}), (std::vector<std::uint64_t>{8, 2}));  // 7.5 / 2.5: tie -> first
    EXPECT_EQ(split_by_weight(1'000'000, {1, 2, 7}), (std::vector<std::uint64_t>{100'000, 200'000, 700'000}));
    for (std::uint64_t total : {0ull, 1ull, 7ull, 999'999ull, 10'000'000'000ull}) {
        const auto parts = split_by_weight(total, {0.3, 1.7, 2.9, 0.1});
        EXPECT_EQ(std::accumulate(parts.begin(), parts.end(), std::uint64_t{0}), total);
    }
}

TEST(Timeline, ramps_holds_and_drains_in_order) {
    timeline t(default_like(), false, {1}, 0);
    EXPECT_TRUE(t.advance(0));
    EXPECT_EQ(t.current().name, "ramp");
    EXPECT_EQ(t.total_target_at(0), 0u);
    EXPECT_EQ(t.total_target_at(15 * s), 500'000u);
    EXPECT_EQ(t.total_target_at(30 * s), 1'000'000u);
    EXPECT_FALSE(t.advance(29 * s));
    EXPECT_TRUE(t.advance(30 * s));
    EXPECT_EQ(t.current().name, "hold");
    EXPECT_EQ(t.total_target_at(100 * s), 1'000'000u);
    EXPECT_TRUE(t.advance(630 * s));
    EXPECT_EQ(t.current().name, "drain");
    EXPECT_EQ(t.total_target_at(635 * s), 500'000u);
    EXPECT_EQ(t.stage_end_ns(), std::optional<std::uint64_t>(640 * s));
    EXPECT_TRUE(t.advance(640 * s));
    EXPECT_TRUE(t.finished());
    EXPECT_FALSE(t.stage_end_ns().has_value());
    EXPECT_EQ(t.total_target_at(10'000 * s), 0u);
}

TEST(Timeline, repeat_starts_over_from_where_the_last_stage_left) {
    timeline t({{"up", 100, 10 * s}, {"down", 40, 10 * s}}, true, {1}, 0);
    t.advance(0);
    t.advance(25 * s);  // second cycle, 5 s into "up" again
    EXPECT_EQ(t.cycle(), 1u);
    EXPECT_EQ(t.current().name, "up");
    EXPECT_EQ(t.total_target_at(25 * s), 70u);  // halfway from 40 to 100
    EXPECT_FALSE(t.finished());
}

TEST(Timeline, a_reloaded_scenario_ramps_from_the_target_in_force) {
    // 600k in force when the reload comes: the new first stage goes from there.
    timeline t({{"up", 1'000'000, 10 * s}, {"hold", std::nullopt, 10 * s}}, false, {1}, 100 * s, 600'000);
    EXPECT_TRUE(t.advance(100 * s));
    EXPECT_EQ(t.total_target_at(100 * s), 600'000u);
    EXPECT_EQ(t.total_target_at(105 * s), 800'000u);
    // A first stage that only holds keeps the target in force.
    timeline held({{"hold", std::nullopt, 10 * s}}, false, {1}, 0, 600'000);
    held.advance(0);
    EXPECT_EQ(held.total_target_at(5 * s), 600'000u);
}

TEST(Timeline, a_stage_splits_its_target_by_weight) {
    timeline t({{"ramp", 1000, 10 * s}}, false, {1, 3}, 0);
    t.advance(0);
    ASSERT_EQ(t.ramps().size(), 2u);
    EXPECT_EQ(t.ramps()[0].to, 250u);
    EXPECT_EQ(t.ramps()[1].to, 750u);
}

TEST(Timeline, jumping_over_several_stages_lands_in_the_right_one) {
    timeline t(default_like(), false, {1}, 0);
    t.advance(0);
    EXPECT_TRUE(t.advance(635 * s));
    EXPECT_EQ(t.current().name, "drain");
    EXPECT_EQ(t.total_target_at(635 * s), 500'000u);
}

TEST(Timeline, a_repeating_scenario_without_duration_runs_once) {
    timeline t({{"a", 5, 0}, {"b", 7, 0}}, true, {1}, 0);
    t.advance(0);
    EXPECT_TRUE(t.finished());
    EXPECT_EQ(t.total_target_at(0), 7u);
}

}  // namespace
}  // namespace corostorm::scenario
