#include "runtime/worker.h"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <algorithm>
#include <cassert>
#include <chrono>
#include <ctime>
#include <utility>

#include "runtime/busy_work.h"
#include "runtime/clock.h"
#include "runtime/run_loop.h"
#include "runtime/task_factory.h"

namespace corostorm::runtime {

namespace {

// Where the running thread publishes its CPU time: its own worker's shard in
// per_thread, the shard with the thread's index in shared (see bind_busy_slot).
thread_local metrics::owned_value* tls_busy_slot = nullptr;

std::uint64_t share_of(std::uint64_t total, unsigned index, unsigned count) noexcept {
    return total / count + (index < total % count ? 1 : 0);
}

std::chrono::steady_clock::time_point to_time_point(std::uint64_t ns) noexcept {
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace

void worker::bind_busy_slot() noexcept { tls_busy_slot = &shard_.busy_ns; }

worker::worker(unsigned index, unsigned count, std::vector<task_factory*> workloads, worker_options options,
               boost::asio::io_context* shared)
    : index_(index),
      count_(count),
      options_(options),
      factories_(std::move(workloads)),
      shard_(factories_.size()),
      scope_(shard_),
      wheel_(now_ns(), options.timer_tick_ns),
      own_ctx_(shared == nullptr ? std::make_unique<boost::asio::io_context>(1) : nullptr),
      ctx_(shared == nullptr ? own_ctx_.get() : shared),
      strand_(boost::asio::make_strand(*ctx_)),
      executor_(shared == nullptr ? boost::asio::any_io_executor(own_ctx_->get_executor())
                                  : boost::asio::any_io_executor(strand_)),
      wake_timer_(executor_),
      control_timer_(executor_),
      targets_(factories_.size()),
      desired_units_(factories_.size(), 0),
      sample_every_(options.sample_every),
      sample_countdown_(options.sample_every),
      clock_ns_(now_ns()),
      rng_(0x9E3779B97F4A7C15ull * (index + 1)) {
    assert(count_ > 0 && index_ < count_ && options_.sample_every > 0);
    // The slab has one owner thread: the shared layout's completions may run on any.
    assert(shared == nullptr || options_.asio_allocator == asio_allocator_kind::recycling);
    assert(options_.asio_token == asio_token_kind::use_awaitable ||
           options_.asio_allocator == asio_allocator_kind::recycling);
}

worker::~worker() {
    destroy_remaining();
    if (started_) {
        for (task_factory* f : factories_) f->on_worker_exit(*this);
    }
}

void worker::run() {
    assert(own_ctx_ && "a worker of the shared layout runs on the pool's threads");
    // The thread belongs to this worker alone: bind it for asio coroutines
    // too, which the io_context resumes outside the worker's own handlers.
    worker_binding bind(this);
    bind_busy_slot();
    schedule_control(true);
    run_surviving_out_of_memory(*own_ctx_);
}

void worker::start_on_shared() { schedule_control(true); }

void worker::set_targets(std::vector<target_ramp> totals) {
    assert(totals.size() == factories_.size());
    boost::asio::post(executor_, [this, totals = std::move(totals)]() mutable {
        targets_ = std::move(totals);
        wake_control();
    });
}

void worker::set_sample_every(std::uint64_t every) {
    assert(every > 0);
    boost::asio::post(executor_, [this, every] {
        sample_every_ = every;
        sample_countdown_ = std::min(sample_countdown_, every);
    });
}

void worker::request_stop() {
    boost::asio::post(executor_, [this] {
        if (stopping_) return;
        stopping_ = true;
        std::fill(desired_units_.begin(), desired_units_.end(), 0);
        wake_control();
        if (started_) {
            worker_binding bind(this);
            for (task_factory* f : factories_) f->on_worker_stop(*this);
        }
        flush_on_stop();
    });
}

void worker::abort() {
    if (own_ctx_) own_ctx_->stop();
}

std::uint64_t worker::random() noexcept {
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 0x2545F4914F6CDD1Dull;
}

void worker::refresh_clock() noexcept {
    // The run so far was resumed at the old clock value.
    flush_ready_run();
    clock_countdown_ = clock_refresh;
    clock_ns_ = now_ns();
}

void worker::flush_ready_run() noexcept {
    if (ready_run_.length == 0) return;
    assert(ready_run_.stamp <= clock_ns_);  // an earlier value of the same clock
    ready_run_.stats->latency[static_cast<std::size_t>(ready_run_.source)].record(
        clock_ns_ - ready_run_.stamp, ready_run_.length);
    ready_run_.length = 0;
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

void worker::ready_queue::push(timer_node& node) noexcept {
    node.next = nullptr;
    if (tail != nullptr) {
        tail->next = &node;
    } else {
        head = &node;
    }
    tail = &node;
}

void worker::make_ready(timer_node& node, metrics::latency_source source) noexcept {
    // The node's time field holds when the task became runnable, or 0 when
    // this resume is not sampled (the clock is read only for samples).
    node.deadline_ns = sample_latency() ? clock_ns_ : 0;
    (source == metrics::latency_source::io ? io_ready_ : ready_).push(node);
    if (!ready_posted_) {
        ready_posted_ = true;
        boost::asio::post(executor_, [this] { run_ready(); });
    }
}

void worker::hand_off(timer_node& node) noexcept {
    if (!in_ready_turn_ || !options_.next_slot) {
        make_ready(node);
        return;
    }
    node.deadline_ns = sample_latency() ? clock_ns_ : 0;
    if (next_ != nullptr) ready_.push(*next_);  // run_queue posts nothing: its caller re-posts
    next_ = &node;
}

void worker::resume_io(task_handle h, std::uint64_t completion_ns) noexcept {
    auto& stats = shard_.workload(h.promise().workload);
    stats.resumes.add(1);
    if (sample_latency()) {
        // Replies parsed from one read share their completion stamp and, until
        // the clock moves, their resume time: recorded as a run, like ready.
        const std::uint64_t stamp = std::min(completion_ns, clock_ns_);
        if (stamp == ready_run_.stamp && &stats == ready_run_.stats &&
            ready_run_.source == metrics::latency_source::io) [[likely]] {
            ++ready_run_.length;
        } else {
            flush_ready_run();
            ready_run_ = {stamp, &stats, 1, metrics::latency_source::io};
        }
    }
    h.resume();
    tick_clock();
}

void worker::complete_io(timer_node& node) {
    if (own_ctx_) {
        make_ready(node, metrics::latency_source::io);
        return;
    }
    boost::asio::post(executor_, [this, &node] { make_ready(node, metrics::latency_source::io); });
}

void worker::resume_ready(timer_node* node, metrics::latency_source source) noexcept {
    node->next = nullptr;
    ++turn_work_;
    auto& promise = task::promise_type::of(node);
    auto& stats = shard_.workload(promise.workload);
    stats.resumes.add(1);
    if (const std::uint64_t stamp = node->deadline_ns; stamp != 0) {
        if (stamp == ready_run_.stamp && &stats == ready_run_.stats && source == ready_run_.source)
            [[likely]] {
            ++ready_run_.length;
        } else {
            flush_ready_run();
            ready_run_ = {stamp, &stats, 1, source};
        }
    }
    task_handle::from_promise(promise).resume();
    const std::uint64_t before = clock_ns_;
    tick_clock();
    // A task this resume handed off, stamped with the cached clock, was handed
    // inside this resume, the last of the clock_refresh that a refresh here
    // just measured: its wait runs from the end of this resume, not from the
    // start of the 64, which would charge it up to 64 resumes of other tasks.
    if (next_ != nullptr && next_->deadline_ns == before && clock_ns_ != before)
        next_->deadline_ns = clock_ns_;
}

void worker::run_queue(ready_queue& q, metrics::latency_source source) {
    // Only what is queued now runs in this turn: a task that yields again
    // goes behind, into the next turn, so timers and control get theirs.
    timer_node* batch = q.head;
    timer_node* const batch_tail = q.tail;
    q.head = q.tail = nullptr;
    in_ready_turn_ = true;
    while (!turn_spent() && batch != nullptr) {
        timer_node* node = batch;
        batch = node->next;
        resume_ready(node, source);
        // The chain of hand-offs this resume started runs now, within the turn.
        while (next_ != nullptr) {
            timer_node* handed = std::exchange(next_, nullptr);
            if (turn_spent()) {
                ready_.push(*handed);
                break;
            }
            resume_ready(handed, metrics::latency_source::ready);
        }
    }
    in_ready_turn_ = false;
    if (batch != nullptr) {
        // Over budget: the rest goes back in front of what was queued meanwhile.
        batch_tail->next = q.head;
        if (q.head == nullptr) q.tail = batch_tail;
        q.head = batch;
    }
}

void worker::run_ready() {
    worker_binding bind(this);
    turn t(*this, options_.resume_batch);
    refresh_clock();
    ready_posted_ = false;
    run_queue(io_ready_, metrics::latency_source::io);
    run_queue(ready_, metrics::latency_source::ready);
    flush_ready_run();
    if ((ready_.head != nullptr || io_ready_.head != nullptr) && !ready_posted_) {
        ready_posted_ = true;
        boost::asio::post(executor_, [this] { run_ready(); });
    }
}

void worker::fire(timer_node* node) noexcept {
    ++turn_work_;
    auto& promise = task::promise_type::of(node);
    auto& stats = shard_.workload(promise.workload);
    stats.resumes.add(1);
    if (sample_latency()) {
        // The wheel never fires early, but the cached clock may lag the
        // tick that fired this timer by a few resumes: count that as 0.
        stats.latency[0].record(clock_ns_ > node->deadline_ns ? clock_ns_ - node->deadline_ns : 0);
    }
    task_handle::from_promise(promise).resume();
    tick_clock();
}

void worker::on_wake() {
    worker_binding bind(this);
    turn t(*this, options_.resume_batch);
    armed_due_ns_ = UINT64_MAX;
    in_wake_ = true;
    refresh_clock();
    const std::size_t fired =
        wheel_.poll(clock_ns_, options_.resume_batch, [this](timer_node* n) { fire(n); });
    in_wake_ = false;
    if (fired == options_.resume_batch || wheel_.behind()) {
        // More is due (or the wheel stopped at its bound on moving timers
        // down): continue after whatever else is queued (control ticks).
        boost::asio::post(executor_, [this] { on_wake(); });
        armed_due_ns_ = 0;  // a continuation is pending; nothing needs arming
        return;
    }
    if (const auto due = wheel_.next_due_ns()) arm(*due);
}

void worker::flush_on_stop() {
    worker_binding bind(this);
    turn t(*this, options_.resume_batch);
    refresh_clock();
    in_wake_ = true;
    const std::size_t fired = wheel_.drain(options_.resume_batch, [this](timer_node* n) { fire(n); });
    in_wake_ = false;
    if (fired == options_.resume_batch) boost::asio::post(executor_, [this] { flush_on_stop(); });
}

void worker::on_control() {
    worker_binding bind(this);
    turn t(*this, options_.spawn_batch);
    control_settled_ = false;
    ++control_ticks_;
    refresh_clock();
    const std::uint64_t now = clock_ns_;
    shard_.heartbeat_ns.set(now);
    // A pool thread only runs io_context handlers, so its CPU time is the
    // time spent on tasks of either engine and on bookkeeping: one read per
    // tick covers handlers the runtime does not own, such as asio coroutines.
    // Each thread writes only its own slot.
    if (tls_busy_slot != nullptr) tls_busy_slot->set(thread_cpu_ns());
    if (stopping_) {
        if (scope_.drained()) {
            finish();
            return;
        }
        schedule_control(false);
        return;
    }
    if (!started_) {
        started_ = true;
        for (task_factory* f : factories_) f->on_worker_start(*this);
    }
    std::size_t budget = options_.spawn_batch;
    const std::uint64_t ceiling = task_ceiling_.load(std::memory_order_relaxed);
    const std::uint64_t fd_ceiling = fd_ceiling_.load(std::memory_order_relaxed);
    std::uint64_t fds = 0;
    for (std::uint32_t w = 0; w < factories_.size(); ++w)
        fds += scope_.units(w) * factories_[w]->fds_per_unit();
    bool held_back = false;
    bool held_back_fds = false;
    // Settled: every workload at its target, no ramp under way, and no task
    // resumed or spawned since the last tick, on either engine (the shard's
    // counters: O(workloads)).
    const std::uint64_t activity = activity_count();
    bool settled = activity == activity_at_control_;
    for (std::uint32_t w = 0; w < factories_.size(); ++w) {
        const std::uint64_t unit = factories_[w]->tasks_per_unit();
        const std::uint64_t unit_fds = factories_[w]->fds_per_unit();
        desired_units_[w] = share_of(targets_[w].at(now) / unit, index_, count_);
        const target_ramp& ramp = targets_[w];
        if (ramp.from != ramp.to && now < ramp.start_ns + ramp.over_ns) settled = false;
        while (budget > 0 && !turn_spent() && scope_.units(w) < desired_units_[w]) {
            if (scope_.live_total() + unit > ceiling) {
                held_back = true;
                break;
            }
            if (unit_fds != 0 && fds + unit_fds > fd_ceiling) {
                held_back_fds = true;
                break;
            }
            fds += unit_fds;
            budget -= std::min<std::size_t>(budget, unit);
            try {
                tick_clock();
                factories_[w]->spawn(task_env{static_cast<std::uint16_t>(w)}, *this);
            } catch (...) {
                // Out of memory for a frame: count it and try again next turn.
                shard_.spawn_failures.add(1);
                budget = 0;
            }
        }
    }
    if (held_back) shard_.spawn_denied_memory.add(1);
    if (held_back_fds) shard_.spawn_denied_fds.add(1);
    for (std::uint32_t w = 0; w < factories_.size(); ++w) {
        if (scope_.units(w) < desired_units_[w]) settled = false;
    }
    activity_at_control_ = activity_count();
    if (activity_at_control_ != activity) settled = false;  // this tick spawned
    schedule_control(budget == 0 || turn_spent(), settled);
}

void worker::schedule_control(bool immediately, bool settled) {
    if (immediately) {
        boost::asio::post(executor_, [this] { on_control(); });
        return;
    }
    control_settled_ = settled;
    control_timer_.expires_after(
        std::chrono::nanoseconds(settled ? options_.settled_control_period_ns : options_.control_period_ns));
    control_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) on_control();
    });
}

std::uint64_t worker::activity_count() const noexcept {
    std::uint64_t n = 0;
    for (std::uint32_t w = 0; w < factories_.size(); ++w) {
        n += shard_.workload(w).resumes.read() + shard_.workload(w).spawned.read();
    }
    return n;
}

void worker::wake_control() {
    // Only a tick waiting on the timer is cancelled (and then replaced), so
    // there is never more than one control tick pending.
    if (control_settled_ && control_timer_.cancel() > 0) {
        control_settled_ = false;
        boost::asio::post(executor_, [this] { on_control(); });
    }
}

void worker::finish() {
    if (tls_busy_slot != nullptr) tls_busy_slot->set(thread_cpu_ns());
    wake_timer_.cancel();
    control_timer_.cancel();
    // release: whoever sees finished() also sees the final counters.
    finished_.store(true, std::memory_order_release);
}

void worker::destroy_remaining() noexcept {
    // Forced shutdown: frames linked in the wheel or the ready queue belong
    // to suspended tasks; destroying them runs their destructors and frees
    // the frames into this worker's allocator. Tasks waiting on a channel or
    // a join are reachable only through other frames: their memory goes
    // with the allocator's slabs.
    worker_binding bind(this);
    const auto destroy = [](timer_node* n) {
        task_handle::from_promise(task::promise_type::of(n)).destroy();
    };
    wheel_.drain(SIZE_MAX, destroy);
    for (ready_queue* q : {&ready_, &io_ready_}) {
        while (timer_node* n = q->head) {
            q->head = n->next;
            destroy(n);
        }
        q->tail = nullptr;
    }
}

}  // namespace corostorm::runtime
