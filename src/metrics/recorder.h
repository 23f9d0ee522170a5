// Per-worker metric recording: the counters and latency histograms that the
// runtime writes on its hot paths and the exporter reads at scrape time.
//
// Design note. Each worker owns one `worker_shard`. Only the owning worker
// thread writes it; any thread may read it. Writes are a relaxed load plus a
// relaxed store of the same atomic (no read-modify-write, no lock): on x86-64
// that compiles to plain `mov`/`add`, exactly what a non-atomic counter costs,
// while readers still see whole values (a torn read is impossible, a value a
// few increments old is fine for monitoring). A scrape therefore costs
// O(workers x workloads x buckets) and never stops a worker.
// This header knows nothing of Prometheus; metrics/exporter does the export.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace corostorm::metrics {

// A counter or gauge written by exactly one thread and read by any.
class owned_value {
public:
    void add(std::uint64_t n) noexcept {
        // relaxed: single writer; readers only need an untorn, eventually current value.
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void sub(std::uint64_t n) noexcept {
        // relaxed: as add().
        v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    }
    void set(std::uint64_t n) noexcept {
        // relaxed: as add().
        v_.store(n, std::memory_order_relaxed);
    }
    std::uint64_t read() const noexcept {
        // relaxed: monitoring tolerates a slightly stale value.
        return v_.load(std::memory_order_relaxed);
    }

private:
    std::atomic<std::uint64_t> v_{0};
};

// Scheduling-latency histogram with log-spaced buckets: bucket i counts
// values <= 2^i microseconds (1 us, 2 us, 4 us ... 2^24 us = 16.8 s), the last
// bucket counts everything above. One record is a division by a constant, a
// bit_width and three owned_value updates.
class latency_histogram {
public:
    static constexpr std::size_t finite_buckets = 25;
    static constexpr std::size_t bucket_count = finite_buckets + 1;  // + Inf

    static constexpr std::size_t bucket_for(std::uint64_t ns) noexcept {
        const std::uint64_t us_ceil = (ns + 999) / 1000;
        if (us_ceil <= 1) return 0;
        const auto i = static_cast<std::size_t>(std::bit_width(us_ceil - 1));
        return i < finite_buckets ? i : finite_buckets;
    }
    // Upper bound of bucket i in seconds (+Inf for the last).
    static double upper_bound_seconds(std::size_t i) noexcept;

    void record(std::uint64_t ns) noexcept { record(ns, 1); }
    // `times` samples of the same value at once.
    void record(std::uint64_t ns, std::uint64_t times) noexcept {
        buckets_[bucket_for(ns)].add(times);
        sum_ns_.add(ns * times);
    }

    std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i].read(); }
    std::uint64_t sum_ns() const noexcept { return sum_ns_.read(); }

private:
    std::array<owned_value, bucket_count> buckets_{};  // not cumulative
    owned_value sum_ns_;
};

// Records into a histogram with one update per run of equal values: a batch
// of completions stamped by one cached clock mostly carries the same value.
// Flushes when the value changes and when it goes out of scope.
class latency_run {
public:
    explicit latency_run(latency_histogram& h) noexcept : h_(h) {}
    ~latency_run() { flush(); }
    latency_run(const latency_run&) = delete;
    latency_run& operator=(const latency_run&) = delete;

    void record(std::uint64_t ns) noexcept {
        if (ns == value_ && count_ != 0) [[likely]] {
            ++count_;
            return;
        }
        flush();
        value_ = ns;
        count_ = 1;
    }
    void flush() noexcept {
        if (count_ != 0) h_.record(value_, count_);
        count_ = 0;
    }

private:
    latency_histogram& h_;
    std::uint64_t value_ = 0;
    std::uint64_t count_ = 0;
};

// A histogram summed over workers at one instant, for quantiles in /status,
// reports and benchmarks (Prometheus computes its own with histogram_quantile).
struct latency_snapshot {
    std::array<std::uint64_t, latency_histogram::bucket_count> buckets{};
    std::uint64_t sum_ns = 0;

    void add(const latency_histogram& h) noexcept;
    std::uint64_t count() const noexcept;
    // The q-quantile in seconds, interpolated linearly inside the bucket as
    // Prometheus' histogram_quantile does; NaN when empty. A quantile that
    // falls in the +Inf bucket reports the largest finite bound.
    double quantile(double q) const noexcept;
};

// timer: actual wake-up - intended deadline; ready: resume - made runnable
// (a yield, a message, a join); io: resume - the socket completion (Asio's
// reactor) that made the task runnable.
enum class latency_source : std::uint8_t { timer, ready, io };
inline constexpr std::size_t latency_source_count = 3;
inline constexpr std::array<latency_source, latency_source_count> all_latency_sources{
    latency_source::timer, latency_source::ready, latency_source::io};

// The one spelling of each source: the exporter's `source` label, the keys of
// the status and prove JSON, the rows of prove's table.
constexpr std::string_view to_string(latency_source s) noexcept {
    constexpr std::array<std::string_view, latency_source_count> names{"timer", "ready", "io"};
    return names[static_cast<std::size_t>(s)];
}

enum class task_outcome : std::uint8_t { ok, error, cancelled };
inline constexpr std::size_t task_outcome_count = 3;
inline constexpr std::array<task_outcome, task_outcome_count> all_task_outcomes{
    task_outcome::ok, task_outcome::error, task_outcome::cancelled};

// The exporter's `outcome` label and the keys of the status JSON's `completed`.
constexpr std::string_view to_string(task_outcome o) noexcept {
    constexpr std::array<std::string_view, task_outcome_count> names{"ok", "error", "cancelled"};
    return names[static_cast<std::size_t>(o)];
}

struct workload_shard {
    owned_value spawned;
    std::array<owned_value, task_outcome_count> completed{};
    owned_value resumes;
    owned_value frame_bytes;  // bytes of live coroutine frames, exact
    std::array<latency_histogram, latency_source_count> latency{};
    // echo and rpc: message sent to reply received, as the calling task sees
    // it; sampled 1 in latency.sample_every like the latencies, while
    // round_trips counts every one.
    latency_histogram round_trip;
    owned_value round_trips;
    owned_value connections;  // open loopback connections (echo: one per unit; rpc: the shared ones)

    std::uint64_t completed_total() const noexcept {
        return completed[0].read() + completed[1].read() + completed[2].read();
    }
    // Completed is read first: a task that finishes between the two reads
    // then shows as live for one scrape instead of driving the gauge negative.
    std::uint64_t live() const noexcept {
        const std::uint64_t done = completed_total();
        const std::uint64_t started = spawned.read();
        return started >= done ? started - done : 0;
    }
};

// Everything one worker records. Cache-line aligned so that two workers'
// shards never share a line.
struct alignas(64) worker_shard {
    explicit worker_shard(std::size_t workloads)
        : workload_count(workloads), per_workload(std::make_unique<workload_shard[]>(workloads)) {}

    const std::size_t workload_count;
    std::unique_ptr<workload_shard[]> per_workload;
    owned_value busy_ns;              // CPU time of pool thread <index>, published on control ticks
    owned_value heartbeat_ns;         // steady-clock time of the last control tick
    owned_value spawn_failures;       // spawns that failed to get a frame
    owned_value spawn_denied_memory;  // control turns whose spawns the memory guard held back
    owned_value spawn_denied_fds;     // control turns whose spawns the descriptor budget held back

    workload_shard& workload(std::size_t i) noexcept { return per_workload[i]; }
    const workload_shard& workload(std::size_t i) const noexcept { return per_workload[i]; }
};

}  // namespace corostorm::metrics
