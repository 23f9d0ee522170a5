// A worker: one thread, one io_context, and everything a lean task touches on
// its hot path (frame allocator, timer wheel, spawn scope, metrics shard).
//
// Design note. With runtime.layout = per_thread every worker is a small
// single-threaded runtime with an io_context of its own: a task is spawned,
// resumed and freed on one worker only, so none of its state needs a lock or
// an atomic read-modify-write. With layout = shared all workers post to one
// io_context that every pool thread runs; each worker's handlers and tasks go
// through a strand of it, so a worker's state is still touched by one handler
// at a time, but by whichever thread the shared queue hands it to.
// Other threads talk to a worker by posting to its executor (targets, stop)
// and read it only through its metrics shard. Every worker handler binds the
// worker to the running thread (this_worker()) for its duration.
//
// Inside the io_context the worker keeps these handlers going:
//   - the wake timer, one asio::steady_timer armed for the earliest batch of
//     the timer wheel; when it fires the worker resumes every due task
//     (bounded batches, re-posted, so control work is never starved);
//   - the ready queue: tasks that yielded or were handed a message, resumed
//     in FIFO order by a posted handler, in bounded batches; and its next
//     slot: a task handed a message or a join by the task running runs as
//     soon as that one suspends (see hand_off);
//   - the control tick (every 5 ms): move the unit count of each workload
//     toward its target ramp by spawning (paced in bounded batches) and by
//     letting surplus units retire at their next wake; publish a heartbeat.
// The worker's clock: reading steady_clock costs ~30 ns here (measured;
// docs/design.md), more than a whole yield round trip, so lean tasks
// and the latency stamps read a cached copy instead. It is read afresh at the
// start of every handler, every `clock_refresh` (64) resumes or spawns inside
// one, and after busy work; a stamp is therefore late by at most the time of
// 64 short resumes (~0.7 us for yields, below the histogram's first 1 us
// bucket), and latency below that is not resolved.
// Shutdown: request_stop() sets every target to zero and wakes every sleeping
// task now; each unit sees it must retire and finishes (outcome
// `cancelled`), taking its helpers with it. When the scope has drained, the
// worker cancels its handlers and run() returns. A worker destroyed with
// tasks still alive (forced shutdown) destroys the frames it can reach (timer
// wheel, ready queue); the slabs of the others are freed with the allocator.
// Beside it: what a workload gives the worker (runtime/task_factory.h), the
// targets it moves toward (runtime/target_ramp.h) and what lean tasks
// co_await to sleep or yield (runtime/awaiters.h).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <memory>
#include <vector>

#include "metrics/recorder.h"
#include "runtime/frame_allocator.h"
#include "runtime/spawn_scope.h"
#include "runtime/target_ramp.h"
#include "runtime/task.h"
#include "runtime/timer_wheel.h"

namespace corostorm::runtime {

class task_factory;  // runtime/task_factory.h

// How asio-engine tasks are written (docs/configuration.md, runtime.asio).
// any: every awaitable, timer and co_spawn on boost::asio::any_io_executor;
// typed: on the io_context's own executor type (a strand of it in the
// shared layout), which is what makes an asio sleeper's frame, timer and
// wait operation small.
enum class asio_executor_kind : std::uint8_t { any, typed };
// recycling: Asio's default for the operation objects of waits and posts
// (a per-thread cache of a few blocks, then the heap); worker: those
// operations bound (bind_allocator) to the worker's frame_allocator slab.
// Awaitable frames always come from Asio's own per-thread cache and the heap:
// Asio 1.26 gives them no allocator hook.
enum class asio_allocator_kind : std::uint8_t { recycling, worker };
// use_awaitable: co_await op(use_awaitable); deferred: co_await op(deferred).
enum class asio_token_kind : std::uint8_t { use_awaitable, deferred };

struct worker_options {
    std::uint64_t timer_tick_ns = 1'000'000;      // timer wheel resolution
    std::uint64_t control_period_ns = 5'000'000;  // spawn pacing and heartbeat
    // The control tick's period once every workload has its target, no ramp
    // is under way and no task ran since the last tick: an idle worker wakes
    // this rarely (set_targets and request_stop wake it at once). A worker
    // that runs tasks keeps the control period, which also publishes its
    // busy time.
    std::uint64_t settled_control_period_ns = 250'000'000;
    std::uint64_t sample_every = 1;   // record latency of 1 in N resumes
    std::size_t spawn_batch = 8192;   // spawns per control turn at most
    std::size_t resume_batch = 4096;  // resumes per handler at most
    bool next_slot = true;            // hand_off runs the task next (else FIFO)
    asio_executor_kind asio_executor = asio_executor_kind::any;
    asio_allocator_kind asio_allocator = asio_allocator_kind::recycling;  // worker: per_thread only
    asio_token_kind asio_token = asio_token_kind::use_awaitable;          // deferred: recycling only
};

class worker {
public:
    // `shared`: the io_context of the shared layout, or null for an io_context of its own.
    worker(unsigned index, unsigned count, std::vector<task_factory*> workloads, worker_options options,
           boost::asio::io_context* shared = nullptr);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    // per_thread: runs the worker on the calling thread until it has stopped
    // and drained. shared: queues the worker's first control tick; the pool's
    // threads run the shared io_context.
    void run();
    void start_on_shared();
    // Makes the calling thread publish its CPU time into this worker's shard
    // (busy_ns). per_thread: the worker's own thread; shared: pool thread i
    // publishes into worker i's shard, so busy time stays per thread.
    void bind_busy_slot() noexcept;

    // Any thread: new targets (one ramp per workload, totals across all
    // workers; this worker takes its share).
    void set_targets(std::vector<target_ramp> totals);
    // Any thread: the most tasks this worker may hold. Spawning stops short of
    // it (a unit that would cross it waits) and each control turn held back
    // counts once in shard().spawn_denied_memory. This is the memory guard's
    // lever; no ceiling by default. Read once per control turn.
    void set_task_ceiling(std::uint64_t tasks) noexcept {
        task_ceiling_.store(tasks, std::memory_order_relaxed);  // relaxed: a limit, not a handshake
    }
    // Any thread: the most file descriptors this worker's units may hold
    // (sum of units x fds_per_unit). Spawning stops short of it and each
    // control turn held back counts once in shard().spawn_denied_fds. The
    // descriptor budget's lever; no ceiling by default.
    void set_fd_ceiling(std::uint64_t fds) noexcept {
        fd_ceiling_.store(fds, std::memory_order_relaxed);  // relaxed: a limit, not a handshake
    }
    std::uint64_t fd_ceiling() const noexcept { return fd_ceiling_.load(std::memory_order_relaxed); }
    // Any thread: record 1 in `every` (>= 1) latencies from the next sample on.
    void set_sample_every(std::uint64_t every);
    std::uint64_t task_ceiling() const noexcept { return task_ceiling_.load(std::memory_order_relaxed); }
    // Any thread: drain every task and let run() return.
    void request_stop();
    // Any thread: stop now, leaving tasks suspended (they are destroyed with the
    // worker). per_thread only; the pool stops a shared io_context itself.
    void abort();

    unsigned index() const noexcept { return index_; }
    const metrics::worker_shard& shard() const noexcept { return shard_; }
    std::uint64_t frame_live_bytes() const noexcept { return allocator_.live_bytes(); }
    std::uint64_t frame_reserved_bytes() const noexcept { return allocator_.reserved_bytes(); }
    bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }

    // ---- owner thread only: the task-facing side ----
    void schedule(timer_node& node) noexcept;
    // Called for every lean task being spawned: true when it starts at once.
    // A turn (one handler: a ready batch, a timer wake-up, a control tick)
    // runs at most resume_batch tasks (spawn_batch for a control tick),
    // counting resumes and starts alike; once that is spent a task that may
    // queue (task_env::may_queue: tree nodes) waits in the ready queue
    // instead, so a tree of a million tasks cannot hold the worker for a
    // whole turn of its own. Outside a turn every task starts at once.
    bool start_now(bool may_queue) noexcept {
        if (may_queue && turn_work_ >= turn_limit_) return false;
        ++turn_work_;
        return true;
    }
    // The most tasks any turn of this worker has run (resumed or started).
    std::size_t max_turn_work() const noexcept { return max_turn_work_; }
    // Control ticks run so far (owner thread; read by tests once stopped).
    std::uint64_t control_ticks() const noexcept { return control_ticks_; }
    // Queues a suspended lean task to run; its latency (source ready, or io
    // for a task woken by a socket completion) is measured from now.
    void make_ready(timer_node& node,
                    metrics::latency_source source = metrics::latency_source::ready) noexcept;
    // Queues a suspended lean task that the running task just handed a
    // message or a join: it runs next, as soon as the running task suspends,
    // ahead of the ready queue, as Go's `runnext` slot does, so a token passed
    // along a chain of tasks does not wait behind every other runnable task.
    // Bounded: one slot (a second hand-off in the same resume sends the first
    // to the back of the ready queue); and a chain of hand-offs inherits the
    // rest of the turn, as a goroutine in `runnext` inherits its time slice:
    // once the turn's resume_batch is spent its next task goes to the back of
    // the ready queue. A ping-ponging pair thus holds the worker for one turn
    // at most: the timers, the control tick and socket completions run between
    // turns, and the ready queue advances by at least one task a turn. Outside
    // a ready turn (a timer, a spawn, a socket completion woke the sender), or
    // with options.next_slot off (runtime.hand_off: fifo), it is make_ready:
    // latency source ready either way.
    void hand_off(timer_node& node) noexcept;
    // Resumes a lean task at once from a handler of this worker that is not a
    // task (an rpc connection delivering replies), recording its io latency
    // against `completion_ns`, the worker clock when the completion arrived.
    void resume_io(task_handle h, std::uint64_t completion_ns) noexcept;
    // Any thread of the worker's io_context: a socket operation of the task
    // whose node this is completed. per_thread: the task is made ready (source
    // io) at once; shared: the wake-up is posted to the worker's strand.
    void complete_io(timer_node& node);
    // The io_context this worker's handlers run on (its own, or the shared one).
    boost::asio::io_context& context() noexcept { return *ctx_; }
    // per_thread layout: the io_context is this worker's alone (its
    // completions run on this worker's thread).
    bool owns_context() const noexcept { return own_ctx_ != nullptr; }
    // True when this worker has more units of `workload` than its target, or stops.
    bool should_retire(std::uint32_t workload) const noexcept {
        return scope_.units(workload) > desired_units_[workload];
    }
    // Latency recording for tasks that measure themselves (the asio engine):
    // sampled 1 in sample_every like the runtime's own recording.
    bool sample_latency() noexcept {
        if (--sample_countdown_ != 0) return false;
        sample_countdown_ = sample_every_;
        return true;
    }
    void record_latency(std::uint32_t workload, metrics::latency_source source, std::uint64_t ns) noexcept {
        shard_.workload(workload).latency[static_cast<std::size_t>(source)].record(ns);
    }
    void count_resume(std::uint32_t workload) noexcept { shard_.workload(workload).resumes.add(1); }
    // A task that could not be started (no memory for its frame).
    void count_spawn_failure() noexcept { shard_.spawn_failures.add(1); }
    // The shard of one workload, for what workloads record themselves
    // (round trips, connections).
    metrics::workload_shard& stats(std::uint32_t workload) noexcept { return shard_.workload(workload); }
    // Where this worker's handlers and tasks run: its own io_context, or its
    // strand of the shared one.
    const boost::asio::any_io_executor& executor() const noexcept { return executor_; }
    // The same executor, typed: the shared layout's strand (per_thread: a
    // strand of the worker's own io_context, unused).
    using strand_executor = boost::asio::strand<boost::asio::io_context::executor_type>;
    const strand_executor& strand() const noexcept { return strand_; }
    asio_executor_kind asio_executor() const noexcept { return options_.asio_executor; }
    asio_allocator_kind asio_allocator() const noexcept { return options_.asio_allocator; }
    asio_token_kind asio_token() const noexcept { return options_.asio_token; }
    std::uint64_t random() noexcept;  // xorshift64*, for phases and jitter
    // The cached steady-clock time (see the design note); never 0.
    std::uint64_t clock_ns() const noexcept { return clock_ns_; }
    void refresh_clock() noexcept;
    static constexpr unsigned clock_refresh = 64;
    frame_allocator& allocator() noexcept { return allocator_; }
    spawn_scope& scope() noexcept { return scope_; }

private:
    void arm(std::uint64_t due_ns) noexcept;
    void on_wake();
    void on_control();
    void flush_on_stop();
    void fire(timer_node* node) noexcept;
    void run_ready();
    void finish();
    void destroy_remaining() noexcept;
    void schedule_control(bool immediately, bool settled = false);
    // Brings a control tick waiting out the settled period forward to now.
    void wake_control();
    std::uint64_t activity_count() const noexcept;  // resumes + spawns of every workload
    // A turn's work budget (see start_now), for the handler's lifetime.
    class turn {
    public:
        turn(worker& w, std::size_t limit) noexcept : w_(w) {
            w_.turn_work_ = 0;
            w_.turn_limit_ = limit;
        }
        ~turn() {
            w_.max_turn_work_ = std::max(w_.max_turn_work_, w_.turn_work_);
            w_.turn_work_ = 0;
            w_.turn_limit_ = SIZE_MAX;
        }
        turn(const turn&) = delete;
        turn& operator=(const turn&) = delete;

    private:
        worker& w_;
    };
    bool turn_spent() const noexcept { return turn_work_ >= turn_limit_; }
    // One resume or spawn done: reads the clock again every clock_refresh of them.
    void tick_clock() noexcept {
        if (--clock_countdown_ == 0) refresh_clock();
    }
    void flush_ready_run() noexcept;

    const unsigned index_;
    const unsigned count_;
    const worker_options options_;
    std::vector<task_factory*> factories_;

    metrics::worker_shard shard_;
    frame_allocator allocator_;
    spawn_scope scope_;
    timer_wheel wheel_;

    std::unique_ptr<boost::asio::io_context> own_ctx_;  // per_thread layout only
    boost::asio::io_context* ctx_;                      // own_ctx_, or the shared one
    strand_executor strand_;
    boost::asio::any_io_executor executor_;
    boost::asio::steady_timer wake_timer_;
    boost::asio::steady_timer control_timer_;
    bool control_settled_ = false;  // the pending control tick waits the settled period
    std::uint64_t armed_due_ns_ = UINT64_MAX;
    bool in_wake_ = false;

    // Ready latency, recorded in runs. Stamps and resume times both come
    // from the cached clock, so consecutive resumes mostly carry the same
    // stamp and see the same clock value: the same latency. A run of them is
    // counted and recorded once, when the stamp or the workload changes, or
    // when the clock moves (refresh_clock flushes it first, also when busy
    // work inside a resume reads the clock). Recording every resume thus
    // costs two compares and an increment (docs/benchmarks.md, what measuring costs).
    struct ready_run {
        std::uint64_t stamp = 0;
        metrics::workload_shard* stats = nullptr;
        std::uint64_t length = 0;
        metrics::latency_source source = metrics::latency_source::ready;
    };
    ready_run ready_run_;

    // Ready queues: intrusive FIFOs through the promises' nodes, one per
    // latency source a wake-up is recorded under (ready, io).
    struct ready_queue {
        timer_node* head = nullptr;
        timer_node* tail = nullptr;
        void push(timer_node& node) noexcept;
    };
    ready_queue ready_;
    ready_queue io_ready_;
    bool ready_posted_ = false;
    // The next slot (see hand_off): filled only while run_queue runs a task.
    timer_node* next_ = nullptr;
    bool in_ready_turn_ = false;
    std::size_t turn_work_ = 0;
    std::size_t turn_limit_ = SIZE_MAX;
    std::size_t max_turn_work_ = 0;
    std::uint64_t control_ticks_ = 0;
    std::uint64_t activity_at_control_ = 0;  // resumes + spawns at the last control tick
    void run_queue(ready_queue& q, metrics::latency_source source);
    void resume_ready(timer_node* node, metrics::latency_source source) noexcept;

    std::vector<target_ramp> targets_;
    std::vector<std::uint64_t> desired_units_;
    std::atomic<std::uint64_t> task_ceiling_{UINT64_MAX};
    std::atomic<std::uint64_t> fd_ceiling_{UINT64_MAX};
    bool started_ = false;  // factories' on_worker_start done
    bool stopping_ = false;
    std::atomic<bool> finished_{false};
    std::uint64_t sample_every_;  // options_.sample_every until set_sample_every()
    std::uint64_t sample_countdown_;
    std::uint64_t clock_ns_;
    unsigned clock_countdown_ = clock_refresh;
    std::uint64_t rng_;
};

namespace detail {
// Set by every worker handler for its duration. Inline: a lean task asks for
// its worker on every suspension, and a call would cost as much as the rest.
inline thread_local worker* tls_worker = nullptr;
}  // namespace detail

// The worker running on this thread. Only valid inside a worker's handlers
// and the tasks it resumes.
inline worker& this_worker() noexcept {
    assert(detail::tls_worker != nullptr && "lean tasks run on a worker thread");
    return *detail::tls_worker;
}
// The same, or null on a thread that is not running a worker.
inline worker* current_worker() noexcept { return detail::tls_worker; }

// Installs `w` as this thread's worker for a scope: every handler of a
// worker that may start or resume lean tasks opens one (in the shared layout
// a strand's handler runs on any pool thread).
class worker_binding {
public:
    explicit worker_binding(worker* w) noexcept : previous_(detail::tls_worker) { detail::tls_worker = w; }
    ~worker_binding() { detail::tls_worker = previous_; }
    worker_binding(const worker_binding&) = delete;
    worker_binding& operator=(const worker_binding&) = delete;

private:
    worker* previous_;
};

}  // namespace corostorm::runtime
