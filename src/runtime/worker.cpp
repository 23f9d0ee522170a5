#include "runtime/worker.h"

#include <boost/asio/post.hpp>
#include <algorithm>
#include <cassert>
#include <chrono>

#include "runtime/clock.h"

namespace corostorm::runtime {

namespace {

thread_local worker* tls_worker = nullptr;

// Installs `w` as this thread's worker for a scope.
class worker_binding {
public:
    explicit worker_binding(worker* w) noexcept : previous_(tls_worker) { tls_worker = w; }
    ~worker_binding() { tls_worker = previous_; }
    worker_binding(const worker_binding&) = delete;
    worker_binding& operator=(const worker_binding&) = delete;

private:
    worker* previous_;
};

// Adds the time from construction to destruction to a busy counter.
class busy_span {
public:
    explicit busy_span(metrics::owned_value& busy) noexcept : busy_(busy), start_(now_ns()) {}
    ~busy_span() { busy_.add(now_ns() - start_); }
    busy_span(const busy_span&) = delete;
    busy_span& operator=(const busy_span&) = delete;

private:
    metrics::owned_value& busy_;
    std::uint64_t start_;
};

std::uint64_t share_of(std::uint64_t total, unsigned index, unsigned count) noexcept {
    return total / count + (index < total % count ? 1 : 0);
}

std::chrono::steady_clock::time_point to_time_point(std::uint64_t ns) noexcept {
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace

worker& this_worker() noexcept {
    assert(tls_worker != nullptr && "lean tasks run on a worker thread");
    return *tls_worker;
}

std::uint64_t target_ramp::at(std::uint64_t now_ns) const noexcept {
    if (over_ns == 0 || now_ns >= start_ns + over_ns) return to;
    if (now_ns <= start_ns) return from;
    const double progress = static_cast<double>(now_ns - start_ns) / static_cast<double>(over_ns);
    const double value =
        static_cast<double>(from) + (static_cast<double>(to) - static_cast<double>(from)) * progress;
    return static_cast<std::uint64_t>(value);
}

worker::worker(unsigned index, unsigned count, std::vector<task_factory*> workloads, worker_options options)
    : index_(index),
      count_(count),
      options_(options),
      factories_(std::move(workloads)),
      shard_(factories_.size()),
      scope_(shard_),
      wheel_(now_ns(), options.timer_tick_ns),
      targets_(factories_.size()),
      desired_(factories_.size(), 0),
      sample_countdown_(options.sample_every),
      rng_(0x9E3779B97F4A7C15ull * (index + 1)) {
    assert(count_ > 0 && index_ < count_ && options_.sample_every > 0);
}

worker::~worker() { destroy_remaining(); }

void worker::run() {
    worker_binding bind(this);
    schedule_control(true);
    ctx_.run();
}

void worker::set_targets(std::vector<target_ramp> totals) {
    assert(totals.size() == factories_.size());
    boost::asio::post(ctx_, [this, totals = std::move(totals)]() mutable { targets_ = std::move(totals); });
}

void worker::request_stop() {
    boost::asio::post(ctx_, [this] {
        if (stopping_) return;
        stopping_ = true;
        std::fill(desired_.begin(), desired_.end(), 0);
        flush_on_stop();
    });
}

void worker::abort() { ctx_.stop(); }

std::uint64_t worker::random() noexcept {
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 0x2545F4914F6CDD1Dull;
}

void worker::schedule(timer_node& node) noexcept {
    wheel_.insert(&node);
    // During a wake-up the wheel is re-armed once at the end.
    if (!in_wake_ && node.deadline_ns < armed_due_ns_) {
        if (const auto due = wheel_.next_due_ns()) arm(*due);
    }
}

void worker::arm(std::uint64_t due_ns) noexcept {
    armed_due_ns_ = due_ns;
    wake_timer_.expires_at(to_time_point(due_ns));
    wake_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) on_wake();
    });
}

void worker::fire(timer_node* node) noexcept {
    auto& promise = task::promise_type::of(node);
    auto& stats = shard_.workload(promise.workload);
    stats.resumes.add(1);
    if (--sample_countdown_ == 0) {
        sample_countdown_ = options_.sample_every;
        const std::uint64_t now = now_ns();
        // The wheel never fires early; the guard keeps a clock oddity from
        // turning into a 2^64 ns lateness.
        stats.latency[0].record(now > node->deadline_ns ? now - node->deadline_ns : 0);
    }
    task_handle::from_promise(promise).resume();
}

void worker::on_wake() {
    busy_span busy(shard_.busy_ns);
    armed_due_ns_ = UINT64_MAX;
    in_wake_ = true;
    const std::size_t fired =
        wheel_.poll(now_ns(), options_.resume_batch, [this](timer_node* n) { fire(n); });
    in_wake_ = false;
    if (fired == options_.resume_batch) {
        // More is due: continue after whatever else is queued (control ticks).
        boost::asio::post(ctx_, [this] { on_wake(); });
        armed_due_ns_ = 0;  // a continuation is pending; nothing needs arming
        return;
    }
    if (const auto due = wheel_.next_due_ns()) arm(*due);
}

void worker::flush_on_stop() {
    busy_span busy(shard_.busy_ns);
    in_wake_ = true;
    const std::size_t fired = wheel_.drain(options_.resume_batch, [this](timer_node* n) { fire(n); });
    in_wake_ = false;
    if (fired == options_.resume_batch) boost::asio::post(ctx_, [this] { flush_on_stop(); });
}

void worker::on_control() {
    busy_span busy(shard_.busy_ns);
    const std::uint64_t now = now_ns();
    shard_.heartbeat_ns.set(now);
    if (stopping_) {
        if (scope_.drained()) {
            finish();
            return;
        }
        schedule_control(false);
        return;
    }
    std::size_t budget = options_.spawn_batch;
    for (std::uint32_t w = 0; w < factories_.size(); ++w) {
        desired_[w] = share_of(targets_[w].at(now), index_, count_);
        while (budget > 0 && scope_.live(w) < desired_[w]) {
            --budget;
            try {
                factories_[w]->spawn(task_env{static_cast<std::uint16_t>(w)}, *this);
            } catch (...) {
                // Out of memory for a frame: count it and try again next turn.
                shard_.spawn_failures.add(1);
                budget = 0;
            }
        }
    }
    schedule_control(budget == 0);
}

void worker::schedule_control(bool immediately) {
    if (immediately) {
        boost::asio::post(ctx_, [this] { on_control(); });
        return;
    }
    control_timer_.expires_after(std::chrono::nanoseconds(options_.control_period_ns));
    control_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) on_control();
    });
}

void worker::finish() {
    wake_timer_.cancel();
    control_timer_.cancel();
    // release: whoever sees finished() also sees the final counters.
    finished_.store(true, std::memory_order_release);
}

void worker::destroy_remaining() noexcept {
    // Forced shutdown: frames still linked in the wheel belong to suspended
    // tasks. Destroying them frees their frames into this worker's allocator.
    worker_binding bind(this);
    wheel_.drain(SIZE_MAX,
                 [](timer_node* n) { task_handle::from_promise(task::promise_type::of(n)).destroy(); });
}

}  // namespace corostorm::runtime
