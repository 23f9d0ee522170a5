// Benchmark: N periodic sleepers on the lean engine, measured the way the
// daemon measures them. Prints RSS growth per task, exact frame bytes per
// task, spawn rate and timer lateness quantiles, with the machine it ran on.
//
//   build/release/bench/bench_sleepers [--tasks 1000000] [--threads 1]
//                                      [--period-ms 1000] [--hold-s 5]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "metrics/probes.h"
#include "metrics/recorder.h"
#include "runtime/clock.h"
#include "runtime/pool.h"
#include "workloads/sleep.h"

namespace {

std::uint64_t arg_u64(int argc, char** argv, std::string_view name, std::uint64_t fallback) {
    for (int i = 1; i + 1 < argc; ++i) {
        if (name == argv[i]) return std::strtoull(argv[i + 1], nullptr, 10);
    }
    return fallback;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace corostorm;
    const std::uint64_t tasks = arg_u64(argc, argv, "--tasks", 1'000'000);
    const auto threads = static_cast<unsigned>(arg_u64(argc, argv, "--threads", 1));
    const std::uint64_t period_ms = arg_u64(argc, argv, "--period-ms", 1000);
    const std::uint64_t hold_s = arg_u64(argc, argv, "--hold-s", 5);

    std::printf("machine: %s, %u CPUs available, %.1f GiB, kernel %s\n", metrics::cpu_model().c_str(),
                metrics::available_cpus(),
                static_cast<double>(metrics::total_memory_bytes()) / (1024.0 * 1024 * 1024),
                metrics::kernel_release().c_str());
    std::printf("run: %llu sleepers, period %llu ms, %u thread(s), hold %llu s\n",
                static_cast<unsigned long long>(tasks), static_cast<unsigned long long>(period_ms), threads,
                static_cast<unsigned long long>(hold_s));

    const workloads::sleep_options sleep_params{.period_ns = period_ms * 1'000'000, .rounds = 0};
    workloads::lean_workload<workloads::sleepers> sleep(sleep_params);
    runtime::pool pool(threads, {&sleep}, runtime::worker_options{});
    pool.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));

    auto live = [&] {
        std::uint64_t n = 0;
        for (unsigned i = 0; i < pool.size(); ++i) n += pool.at(i).shard().workload(0).live();
        return n;
    };
    auto frame_bytes = [&] {
        std::uint64_t n = 0;
        for (unsigned i = 0; i < pool.size(); ++i) n += pool.at(i).frame_live_bytes();
        return n;
    };

    const std::uint64_t rss_before = metrics::resident_bytes();
    const std::uint64_t heap_before = metrics::heap_in_use_bytes();
    const std::uint64_t t0 = runtime::now_ns();
    pool.set_targets({runtime::target_ramp{0, tasks, t0, 0}});
    while (live() < tasks) std::this_thread::sleep_for(std::chrono::microseconds(200));
    const double spawn_s = static_cast<double>(runtime::now_ns() - t0) / 1e9;
    const std::uint64_t rss_after = metrics::resident_bytes();
    const std::uint64_t heap_after = metrics::heap_in_use_bytes();
    const std::uint64_t frames = frame_bytes();

    // Lateness: only what is recorded during the hold counts.
    std::uint64_t busy_before = 0;
    for (unsigned i = 0; i < pool.size(); ++i) busy_before += pool.at(i).shard().busy_ns.read();
    metrics::latency_snapshot start;
    for (unsigned i = 0; i < pool.size(); ++i) start.add(pool.at(i).shard().workload(0).latency[0]);
    std::this_thread::sleep_for(std::chrono::seconds(hold_s));
    metrics::latency_snapshot end;
    for (unsigned i = 0; i < pool.size(); ++i) end.add(pool.at(i).shard().workload(0).latency[0]);
    for (std::size_t b = 0; b < end.buckets.size(); ++b) end.buckets[b] -= start.buckets[b];
    std::uint64_t busy = 0;
    for (unsigned i = 0; i < pool.size(); ++i) busy += pool.at(i).shard().busy_ns.read();

    const auto n = static_cast<double>(tasks);
    std::printf("rss growth per task:   %.1f bytes\n", static_cast<double>(rss_after - rss_before) / n);
    std::printf("heap growth per task:  %.1f bytes\n", static_cast<double>(heap_after - heap_before) / n);
    std::printf("frame bytes per task:  %.1f bytes (exact)\n", static_cast<double>(frames) / n);
    std::printf("spawn rate:            %.2f M/s (%.3f s for %llu)\n", n / spawn_s / 1e6, spawn_s,
                static_cast<unsigned long long>(tasks));
    std::printf("wake-ups in hold:      %llu (%.0f /s)\n", static_cast<unsigned long long>(end.count()),
                static_cast<double>(end.count()) / static_cast<double>(hold_s));
    std::printf("timer lateness:        p50 %.1f us, p99 %.1f us, p99.9 %.1f us\n", end.quantile(0.5) * 1e6,
                end.quantile(0.99) * 1e6, end.quantile(0.999) * 1e6);
    std::printf(
        "worker busy in hold:   %.0f%% of %u thread(s)\n",
        static_cast<double>(busy - busy_before) / (static_cast<double>(hold_s) * 1e9 * threads) * 100.0,
        threads);
    const auto t_stop = std::chrono::steady_clock::now();
    const bool drained = pool.stop(std::chrono::seconds(30));
    std::printf("drain:                 %s in %.3f s\n", drained ? "clean" : "ABORTED",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t_stop).count());
    return drained ? 0 : 1;
}
