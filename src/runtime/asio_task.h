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
//
// Styles (runtime.asio, docs/configuration.md): the sleep, yield and cpu
// bodies are templates over the executor and the operations' allocator, and
// with_asio_style() calls one instantiation, so each option runs exactly the
// code a user would write for it:
//   executor any:   awaitable<T>, steady_timer, co_spawn(any_io_executor)
//   executor typed: awaitable<T, io_context::executor_type>, a timer of that
//                   executor, co_spawn on it (a strand of it in the shared
//                   layout); an executor of 8 bytes instead of 56 wherever
//                   Asio stores one: the timer, the frame, the wait operation
//   token use_awaitable: co_await op(use_awaitable), which runs the
//                   initiation in a coroutine frame of its own, alive for the
//                   whole wait
//   token deferred: co_await op(deferred), awaited by the task's frame
//                   directly (Asio 1.26's await_transform): one frame less
//   allocator recycling: Asio's per-thread recycling cache for operations
//   allocator worker:    bind_allocator(slab, use_awaitable) on every timer
//                   wait and post: the operation object comes from the
//                   worker's slab (frame_allocator::untracked_blocks counts
//                   it). Asio 1.26 does not compile bind_allocator around
//                   deferred, so worker goes with use_awaitable only.
// Asio 1.26 allocates awaitable frames (the task's, and co_spawn's entry
// point, which also holds the completion handler) through its per-thread
// cache then aligned new, whatever the handler's allocator, and dispatches
// co_spawn's completion inline: neither takes an allocator.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <utility>

#include "runtime/clock.h"
#include "runtime/io.h"
#include "runtime/worker.h"

namespace corostorm::runtime {

template <class Executor, class Awaitable>
void asio_spawn(worker& w, task_env env, const Executor& executor, Awaitable&& body) {
    w.scope().on_started(env, 0);
    boost::asio::co_spawn(executor, std::forward<Awaitable>(body),
                          [&w, env](std::exception_ptr error, task_outcome outcome) {
                              w.scope().on_finished(env, 0, error ? task_outcome::error : outcome);
                          });
}

template <class Awaitable>
void asio_spawn(worker& w, task_env env, Awaitable&& body) {
    asio_spawn(w, env, w.executor(), std::forward<Awaitable>(body));
}

// The allocator style of a task's waits and posts (see the design note).
struct asio_recycled_ops {};  // use_awaitable, Asio's allocator
struct asio_worker_ops {};    // use_awaitable bound to the worker's slab
struct asio_deferred_ops {};  // deferred, Asio's allocator

template <class Executor>
using asio_timer =
    boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                      boost::asio::wait_traits<std::chrono::steady_clock>, Executor>;

// The completion token of one wait or post.
template <class Executor>
boost::asio::use_awaitable_t<Executor> asio_token(worker&, asio_recycled_ops) noexcept {
    return {};
}
template <class Executor>
auto asio_token(worker&, asio_deferred_ops) noexcept {
    return boost::asio::deferred;
}
template <class Executor>
auto asio_token(worker& w, asio_worker_ops) noexcept {
    return boost::asio::bind_allocator(wait_op_allocator<void>(&w.allocator()),
                                       boost::asio::use_awaitable_t<Executor>{});
}

// Calls f(executor, ops) with the worker's style: an any_io_executor, the
// io_context's executor or its strand (typed), and the ops of its token and
// allocator. The worker allocator exists in the per_thread layout only.
template <class F>
void with_asio_style(worker& w, F&& f) {
    const auto with_ops = [&](const auto& executor) {
        if (w.asio_token() == asio_token_kind::deferred) {
            f(executor, asio_deferred_ops{});
        } else if (w.asio_allocator() == asio_allocator_kind::worker) {
            f(executor, asio_worker_ops{});
        } else {
            f(executor, asio_recycled_ops{});
        }
    };
    if (w.asio_executor() == asio_executor_kind::any) {
        with_ops(w.executor());
    } else if (w.owns_context()) {
        with_ops(w.context().get_executor());
    } else {
        with_ops(w.strand());
    }
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
