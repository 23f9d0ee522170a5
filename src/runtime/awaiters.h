// What a lean task suspends on to wait for time or to give way: sleep_until,
// every, yield_now; and lean_busy_work, the CPU time a task spends between
// suspensions.
//
// Design note. Each awaiter asks this_worker() for the worker running the
// task and parks the task's own promise node with it (timer wheel or ready
// queue): no allocation beyond the frame, and the awaiter itself is one
// integer or empty. Lifetime: the awaiter is a temporary in the task's frame
// for the suspension; the node belongs to the promise, so it lives as long
// as the task. Thread-safety: only inside a lean task, on the thread of the
// worker that resumed it (in the shared layout, inside the worker's strand).
// Cost: a timer wait is an O(1) timer wheel insert, plus re-arming the
// worker's wake timer when it is the earliest deadline; a yield is a push on
// the ready queue, plus one posted handler when none is pending. Neither
// reads the clock: they use the worker's cached one (see runtime/worker.h).
#pragma once

#include <cstdint>

#include "runtime/busy_work.h"
#include "runtime/task.h"
#include "runtime/worker.h"

namespace corostorm::runtime {

// co_await sleep_until{deadline_ns}: suspend the task until the steady-clock
// time `deadline_ns` (never earlier). Needs no allocation: the timer node is
// the task's promise.
struct sleep_until {
    std::uint64_t deadline_ns;

    bool await_ready() const noexcept { return false; }
    void await_suspend(task_handle h) const noexcept {
        timer_node& node = h.promise().timer;
        node.deadline_ns = deadline_ns;
        this_worker().schedule(node);
    }
    void await_resume() const noexcept {}
};

// co_await every{period_ns}: the first time, suspend until a random phase
// within the first period from now; then until the previous deadline plus
// the period (a schedule, so a late wake-up does not shift the next ones).
// The deadline lives in the task's timer node, so the awaiter and the frame
// hold nothing else: one awaiter for every wake-up keeps the frame small.
struct every {
    std::uint64_t period_ns;

    bool await_ready() const noexcept { return false; }
    void await_suspend(task_handle h) const noexcept {
        timer_node& node = h.promise().timer;
        worker& w = this_worker();
        node.deadline_ns =
            node.deadline_ns == 0 ? w.clock_ns() + w.random() % period_ns : node.deadline_ns + period_ns;
        w.schedule(node);
    }
    void await_resume() const noexcept {}
};

// Busy work inside a lean task: CPU time passes, so the worker's clock is
// read again afterwards.
inline void lean_busy_work(std::uint64_t ns) noexcept {
    if (ns == 0) return;
    busy_work(ns);
    this_worker().refresh_clock();
}

// co_await yield_now{}: give the worker to the tasks queued before this one
// and run again after them (the ready queue is FIFO).
struct yield_now {
    bool await_ready() const noexcept { return false; }
    void await_suspend(task_handle h) const noexcept { this_worker().make_ready(h.promise().timer); }
    void await_resume() const noexcept {}
};

}  // namespace corostorm::runtime
