#include "metrics/recorder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace corostorm::metrics {
namespace {

TEST(LatencyHistogram, buckets_double_from_one_microsecond) {
    EXPECT_EQ(latency_histogram::bucket_for(0), 0u);
    EXPECT_EQ(latency_histogram::bucket_for(1000), 0u);
    EXPECT_EQ(latency_histogram::bucket_for(1001), 1u);
    EXPECT_EQ(latency_histogram::bucket_for(2000), 1u);
    EXPECT_EQ(latency_histogram::bucket_for(2001), 2u);
    EXPECT_EQ(latency_histogram::bucket_for(1'024'000), 10u);
    EXPECT_EQ(latency_histogram::bucket_for(1'024'001), 11u);
    EXPECT_EQ(latency_histogram::bucket_for(16'777'216'000), 24u);
    EXPECT_EQ(latency_histogram::bucket_for(16'777'216'001), latency_histogram::finite_buckets);
    EXPECT_DOUBLE_EQ(latency_histogram::upper_bound_seconds(0), 1e-6);
    EXPECT_DOUBLE_EQ(latency_histogram::upper_bound_seconds(10), 1.024e-3);
    EXPECT_GE(latency_histogram::upper_bound_seconds(latency_histogram::finite_buckets - 1), 10.0);
    EXPECT_TRUE(std::isinf(latency_histogram::upper_bound_seconds(latency_histogram::finite_buckets)));
}

TEST(LatencyHistogram, every_value_lands_in_the_bucket_whose_bounds_hold_it) {
    for (std::uint64_t ns = 1; ns < 40'000'000'000ull; ns = ns * 3 + 7) {
        const std::size_t b = latency_histogram::bucket_for(ns);
        const double s = static_cast<double>(ns) / 1e9;
        EXPECT_LE(s, latency_histogram::upper_bound_seconds(b) * (1 + 1e-12)) << ns;
        if (b > 0) {
            EXPECT_GT(s, latency_histogram::upper_bound_seconds(b - 1)) << ns;
        }
    }
}

TEST(LatencyHistogram, a_run_of_equal_values_records_like_that_many_single_records) {
    latency_histogram one_by_one;
    latency_histogram at_once;
    for (int i = 0; i < 37; ++i) one_by_one.record(3'500);
    at_once.record(3'500, 37);
    at_once.record(900, 0);  // an empty run changes nothing
    for (std::size_t b = 0; b < latency_histogram::bucket_count; ++b) {
        EXPECT_EQ(at_once.bucket(b), one_by_one.bucket(b)) << "bucket " << b;
    }
    EXPECT_EQ(at_once.sum_ns(), 37u * 3'500u);
    EXPECT_EQ(at_once.bucket(latency_histogram::bucket_for(3'500)), 37u);
}

TEST(LatencySnapshot, quantiles_interpolate_inside_buckets) {
    latency_histogram h;
    for (int i = 0; i < 100; ++i) h.record(1'500);  // bucket (1us, 2us]
    for (int i = 0; i < 100; ++i) h.record(3'000);  // bucket (2us, 4us]
    latency_snapshot s;
    s.add(h);
    EXPECT_EQ(s.count(), 200u);
    EXPECT_EQ(s.sum_ns, 450'000u);
    EXPECT_NEAR(s.quantile(0.25), 1.5e-6, 1e-12);
    EXPECT_NEAR(s.quantile(0.5), 2e-6, 1e-12);
    EXPECT_NEAR(s.quantile(0.75), 3e-6, 1e-12);
    EXPECT_TRUE(std::isnan(latency_snapshot{}.quantile(0.5)));
}

TEST(Names, latency_sources_and_outcomes_have_one_spelling_each) {
    std::string sources;
    for (const latency_source s : all_latency_sources) sources += std::string(to_string(s)) + " ";
    EXPECT_EQ(sources, "timer ready io ");
    std::string outcomes;
    for (const task_outcome o : all_task_outcomes) outcomes += std::string(to_string(o)) + " ";
    EXPECT_EQ(outcomes, "ok error cancelled ");
    for (std::size_t i = 0; i < latency_source_count; ++i) {
        EXPECT_EQ(static_cast<std::size_t>(all_latency_sources[i]), i) << "indexes the shard's histograms";
    }
    for (std::size_t i = 0; i < task_outcome_count; ++i) {
        EXPECT_EQ(static_cast<std::size_t>(all_task_outcomes[i]), i) << "indexes the shard's counters";
    }
}

TEST(WorkloadShard, live_is_spawned_minus_completed) {
    workload_shard w;
    w.spawned.add(10);
    w.completed[0].add(3);
    w.completed[2].add(2);
    EXPECT_EQ(w.completed_total(), 5u);
    EXPECT_EQ(w.live(), 5u);
}

}  // namespace
}  // namespace corostorm::metrics
