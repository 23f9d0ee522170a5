// The asio engine: tasks written the way a typical Asio user writes them,
// `asio::awaitable<task_outcome>` started with `asio::co_spawn` on the
// worker's io_context, sleeping on `asio::steady_timer`, yielding with
// `co_await asio::post(...)`.
//
// Design note. These tasks go through the same spawn scope as lean tasks
// (never `detached`): spawn() counts the task in, and the completion handler
// counts it out with its outcome, an escaping exception as `error`. Asio
// allocates its own frames (a per-thread recycling cache, then the heap), so
// the runtime cannot count their bytes exactly: the asio engine reports memory
// per task by the heap and rss methods only.
// Asio tasks get their worker as a parameter rather than from this_worker():
// in the shared layout the io_context resumes them on any pool thread (under
// the worker's strand), outside the handlers that bind the thread.
// Thread-safety: spawn from the worker's own handlers; the completion runs
// on the worker's executor too.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <exception>
#include <utility>

#include "runtime/clock.h"
#include "runtime/worker.h"

namespace corostorm::runtime {

template <class Awaitable>
void asio_spawn(worker& w, task_env env, Awaitable&& body) {
    w.scope().on_started(env, 0);
    boost::asio::co_spawn(w.executor(), std::forward<Awaitable>(body),
                          [&w, env](std::exception_ptr error, task_outcome outcome) {
                              w.scope().on_finished(env, 0, error ? task_outcome::error : outcome);
                          });
}

// An asio task woke from its timer at `deadline_ns`: one resume, and its
// lateness against the deadline (source timer), sampled like the runtime's.
inline void asio_timer_woke(worker& w, std::uint16_t workload, std::uint64_t deadline_ns) noexcept {
    w.count_resume(workload);
    if (w.sample_latency()) {
        const std::uint64_t now = now_ns();
        w.record_latency(workload, metrics::latency_source::timer, now > deadline_ns ? now - deadline_ns : 0);
    }
}

// Counts a task that runs as part of another (a subtree awaited by its
// parent) for as long as it lives: in at construction, out at destruction,
// as `error` when an exception is unwinding it.
class asio_task_guard {
public:
    asio_task_guard(worker& w, task_env env) noexcept
        : worker_(w), env_(env), exceptions_(std::uncaught_exceptions()) {
        worker_.scope().on_started(env_, 0);
    }
    ~asio_task_guard() {
        const bool failed = std::uncaught_exceptions() > exceptions_;
        worker_.scope().on_finished(env_, 0, failed ? task_outcome::error : task_outcome::ok);
    }
    asio_task_guard(const asio_task_guard&) = delete;
    asio_task_guard& operator=(const asio_task_guard&) = delete;

private:
    worker& worker_;
    task_env env_;
    int exceptions_;
};

}  // namespace corostorm::runtime
