#include "metrics/exporter.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <string>

namespace corostorm::metrics {
namespace {

std::string series_value(const std::string& text, const std::string& series) {
    const auto pos = text.find("\n" + series + " ");
    if (pos == std::string::npos) return {};
    const auto start = pos + series.size() + 2;
    return text.substr(start, text.find('\n', start) - start);
}

struct two_workers {
    worker_shard a{2};
    worker_shard b{2};
    reload_counts reloads;
    two_workers() {
        a.workload(0).spawned.add(700);
        a.workload(0).completed[2].add(100);
        a.workload(0).frame_bytes.add(600 * 104);
        b.workload(0).spawned.add(500);
        b.workload(0).frame_bytes.add(500 * 104);
        b.workload(1).spawned.add(3);
        b.workload(1).completed[1].add(1);
        b.workload(1).frame_bytes.add(2 * 200);
        // "busy" is an I/O workload: 3 connections, two round trips, an io wake-up.
        b.workload(1).connections.add(3);
        b.workload(1).round_trip.record(100'000);
        b.workload(1).round_trip.record(300'000);
        b.workload(1).latency[2].record(500);
        b.spawn_denied_fds.add(4);
        a.workload(0).latency[0].record(1'500);
        b.workload(0).latency[0].record(3'000'000);
        a.busy_ns.add(2'500'000'000);
        a.spawn_failures.add(2);
        a.spawn_denied_memory.add(5);
        b.spawn_denied_memory.add(7);
        reloads.success = 3;
        reloads.failure = 1;
        reloads.last_successful = false;
        reloads.last_success_unix_seconds = 1.7e9;
    }
    exporter_source source() const {
        return exporter_source{
            .version = "1.2.3",
            .revision = "0123abc",
            .engine = "lean",
            .workloads = {"idle", "busy"},
            .io_workloads = {false, true},
            .shards = {&a, &b},
            .rss_baseline_bytes = 0,
            .heap_baseline_bytes = 0,
            // From zero: the kernel's whole figure counts as growth.
            .kernel_baseline = kernel_memory{0, read_kernel_memory().value_or(kernel_memory{}).source},
            .scenario =
                [] {
                    return scenario_view{"ramp", {1000, 5}};
                },
            .memory_limit_bytes = 536870912,
            .reloads = &reloads,
        };
    }
};

TEST(RuntimeExporter, sums_shards_per_workload) {
    two_workers w;
    runtime_exporter exporter(w.source());
    const std::string text = serialize({&exporter});
    EXPECT_EQ(series_value(text, R"(corostorm_tasks_live{engine="lean",workload="idle"})"), "1100");
    EXPECT_EQ(series_value(text, R"(corostorm_tasks_live{engine="lean",workload="busy"})"), "2");
    EXPECT_EQ(series_value(text, R"(corostorm_tasks_target{engine="lean",workload="idle"})"), "1000");
    EXPECT_EQ(series_value(text, R"(corostorm_tasks_spawned_total{engine="lean",workload="idle"})"), "1200");
    EXPECT_EQ(series_value(
                  text, R"(corostorm_tasks_completed_total{engine="lean",workload="busy",outcome="error"})"),
              "1");
    EXPECT_EQ(series_value(text, R"(corostorm_coroutine_frame_bytes{engine="lean",workload="idle"})"),
              std::to_string(1100 * 104));
    const std::string frame =
        series_value(text, R"(corostorm_memory_per_task_bytes{engine="lean",method="frame"})");
    ASSERT_FALSE(frame.empty());
    EXPECT_NEAR(std::stod(frame), (1100.0 * 104 + 400) / 1102.0, 1e-6);
    EXPECT_EQ(
        series_value(
            text,
            R"(corostorm_schedule_latency_seconds_count{engine="lean",workload="idle",source="timer"})"),
        "2");
    EXPECT_EQ(
        series_value(
            text,
            R"(corostorm_schedule_latency_seconds_bucket{engine="lean",workload="idle",source="timer",le="2e-06"})"),
        "1");
    EXPECT_EQ(series_value(text, R"(corostorm_worker_busy_seconds_total{engine="lean",worker="0"})"), "2.5");
    EXPECT_EQ(series_value(text, R"(corostorm_scenario_stage_info{stage="ramp"})"), "1");
    EXPECT_EQ(series_value(text, R"(corostorm_spawn_denied_total{reason="allocation"})"), "2");
    EXPECT_EQ(series_value(text, R"(corostorm_spawn_denied_total{reason="memory"})"), "12");
    EXPECT_EQ(series_value(text, "corostorm_memory_limit_bytes"), "536870912");
    EXPECT_EQ(series_value(text, R"(corostorm_config_reloads_total{result="success"})"), "3");
    EXPECT_EQ(series_value(text, R"(corostorm_config_reloads_total{result="failure"})"), "1");
    EXPECT_EQ(series_value(text, "corostorm_config_last_reload_successful"), "0");
    EXPECT_EQ(series_value(text, "corostorm_config_last_reload_success_timestamp_seconds"), "1700000000");
    EXPECT_EQ(series_value(text, R"(corostorm_spawn_denied_total{reason="fds"})"), "4");
}

TEST(RuntimeExporter, io_workloads_export_connections_round_trips_and_io_latency) {
    two_workers w;
    runtime_exporter exporter(w.source());
    const std::string text = serialize({&exporter});
    EXPECT_EQ(series_value(text, R"(corostorm_connections_live{engine="lean",workload="busy"})"), "3");
    EXPECT_EQ(series_value(text, R"(corostorm_io_round_trip_seconds_count{engine="lean",workload="busy"})"),
              "2");
    EXPECT_EQ(series_value(text, R"(corostorm_io_round_trip_seconds_sum{engine="lean",workload="busy"})"),
              "0.0004");
    EXPECT_EQ(
        series_value(
            text, R"(corostorm_schedule_latency_seconds_count{engine="lean",workload="busy",source="io"})"),
        "1");
    // Not for the workload that does no I/O.
    EXPECT_EQ(text.find(R"(corostorm_connections_live{engine="lean",workload="idle"})"), std::string::npos);
    EXPECT_EQ(text.find(R"(workload="idle",source="io")"), std::string::npos);
}

TEST(RuntimeExporter, memory_growth_is_the_numerator_of_memory_per_task) {
    two_workers w;
    runtime_exporter exporter(w.source());
    const std::string text = serialize({&exporter});
    const double live = 1102;
    for (const char* method : {"frame", "rss", "heap", "kernel"}) {
        const std::string per = series_value(
            text, std::string(R"(corostorm_memory_per_task_bytes{engine="lean",method=")") + method + "\"}");
        const std::string grown = series_value(
            text, std::string(R"(corostorm_memory_growth_bytes{engine="lean",method=")") + method + "\"}");
        ASSERT_FALSE(per.empty()) << method;
        ASSERT_FALSE(grown.empty()) << method;
        // Two probe reads apart (rss, heap and kernel move a little between them).
        EXPECT_NEAR(std::stod(per) * live, std::stod(grown), std::stod(grown) * 0.05 + 1e5) << method;
    }
    EXPECT_EQ(series_value(text, R"(corostorm_memory_growth_bytes{engine="lean",method="frame"})"),
              std::to_string(1100 * 104 + 400));
    EXPECT_GT(
        std::stod(series_value(text, R"(corostorm_memory_growth_bytes{engine="lean",method="kernel"})")), 0);
}

TEST(RuntimeExporter, memory_per_task_is_absent_without_live_tasks) {
    worker_shard empty{1};
    runtime_exporter exporter(exporter_source{.version = "1",
                                              .engine = "lean",
                                              .workloads = {"idle"},
                                              .io_workloads = {false},
                                              .shards = {&empty},
                                              .rss_baseline_bytes = 0,
                                              .heap_baseline_bytes = 0,
                                              .kernel_baseline = std::nullopt,
                                              .scenario = {},
                                              .memory_limit_bytes = std::nullopt,
                                              .reloads = nullptr});
    const std::string text = serialize({&exporter});
    EXPECT_EQ(text.find("corostorm_memory_per_task_bytes"), std::string::npos);
    // No limit, no guard: no limit series (the denied counter stays, at 0).
    EXPECT_EQ(text.find("corostorm_memory_limit_bytes"), std::string::npos);
    EXPECT_EQ(series_value(text, R"(corostorm_spawn_denied_total{reason="memory"})"), "0");
    EXPECT_NE(text.find("corostorm_tasks_live"), std::string::npos);
}

TEST(RuntimeExporter, build_info_names_version_engine_compiler_boost_and_revision) {
    two_workers w;
    runtime_exporter exporter(w.source());
    const std::string text = serialize({&exporter});
    const std::regex build_info(
        R"(\ncorostorm_build_info\{version="1\.2\.3",engine="lean",compiler="[^"]+",boost="[^"]+",)"
        R"(revision="0123abc"\} 1\n)");
    EXPECT_TRUE(std::regex_search(text, build_info)) << text.substr(0, text.find("# HELP", 1));

    // Without one given, the revision says so instead of being left out.
    exporter_source unknown = w.source();
    unknown.revision = exporter_source{}.revision;
    runtime_exporter without(std::move(unknown));
    EXPECT_NE(serialize({&without}).find(R"(,revision="unknown"} 1)"), std::string::npos);
}

TEST(RuntimeExporter, exports_the_golden_list_of_metric_names) {
    two_workers w;
    runtime_exporter exporter(w.source());
    const std::string text = serialize({&exporter});
    std::set<std::string> names;
    const std::regex type_line(R"(# TYPE (\S+) )");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), type_line); it != std::sregex_iterator();
         ++it) {
        names.insert((*it)[1]);
    }
    const std::set<std::string> golden = {
        "corostorm_build_info",
        "corostorm_tasks_live",
        "corostorm_tasks_target",
        "corostorm_tasks_spawned_total",
        "corostorm_tasks_completed_total",
        "corostorm_task_resumes_total",
        "corostorm_coroutine_frame_bytes",
        "corostorm_schedule_latency_seconds",
        "corostorm_memory_per_task_bytes",
        "corostorm_memory_growth_bytes",
        "corostorm_connections_live",
        "corostorm_io_round_trip_seconds",
        "corostorm_worker_busy_seconds_total",
        "corostorm_spawn_denied_total",
        "corostorm_memory_limit_bytes",
        "corostorm_config_reloads_total",
        "corostorm_config_last_reload_successful",
        "corostorm_config_last_reload_success_timestamp_seconds",
        "corostorm_scenario_stage_info",
    };
    EXPECT_EQ(names, golden);
}

TEST(HttpExporter, exports_what_the_server_counted) {
    http_exporter exporter([] {
        http_totals t;
        t.answered = {{"/metrics", 200, 7}, {"other", 404, 2}};
        t.connections_open = 3;
        t.connections_evicted = 5;
        t.internal_errors = 1;
        return t;
    });
    const std::string text = serialize({&exporter});
    EXPECT_EQ(series_value(text, R"(corostorm_http_requests_total{path="/metrics",code="200"})"), "7");
    EXPECT_EQ(series_value(text, R"(corostorm_http_requests_total{path="other",code="404"})"), "2");
    EXPECT_EQ(series_value(text, "corostorm_http_connections_open"), "3");
    EXPECT_EQ(series_value(text, "corostorm_http_connections_evicted_total"), "5");
    EXPECT_EQ(series_value(text, "corostorm_http_internal_errors_total"), "1");
}

TEST(RuntimeExporter, output_passes_promtool_check_metrics) {
    if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "promtool not installed";
    two_workers w;
    runtime_exporter exporter(w.source());
    const std::string path = ::testing::TempDir() + "exporter_metrics.txt";
    std::ofstream(path) << serialize({&exporter});
    const std::string out_path = path + ".lint";
    const int rc = std::system(("promtool check metrics < " + path + " > " + out_path + " 2>&1").c_str());
    std::ifstream lint(out_path);
    const std::string problems((std::istreambuf_iterator<char>(lint)), std::istreambuf_iterator<char>());
    EXPECT_EQ(rc, 0) << problems;
    EXPECT_EQ(problems, "");
}

}  // namespace
}  // namespace corostorm::metrics
