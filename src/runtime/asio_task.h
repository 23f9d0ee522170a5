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
// Thread-safety: spawn on the worker's thread; the completion runs there too
// (one io_context per worker).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <exception>
#include <utility>

#include "runtime/worker.h"

namespace corostorm::runtime {

template <class Awaitable>
void asio_spawn(worker& w, task_env env, Awaitable&& body) {
    w.scope().on_started(env, 0);
    boost::asio::co_spawn(w.context(), std::forward<Awaitable>(body),
                          [&w, env](std::exception_ptr error, task_outcome outcome) {
                              w.scope().on_finished(env, 0, error ? task_outcome::error : outcome);
                          });
}

// Counts a task that runs as part of another (a subtree awaited by its
// parent) for as long as it lives: in at construction, out at destruction,
// as `error` when an exception is unwinding it.
class asio_task_guard {
public:
    explicit asio_task_guard(task_env env) noexcept : env_(env), exceptions_(std::uncaught_exceptions()) {
        this_worker().scope().on_started(env_, 0);
    }
    ~asio_task_guard() {
        // No worker bound: the io_context is destroying an abandoned frame
        // at forced shutdown, when counting no longer matters.
        worker* w = current_worker();
        if (w == nullptr) return;
        const bool failed = std::uncaught_exceptions() > exceptions_;
        w->scope().on_finished(env_, 0, failed ? task_outcome::error : task_outcome::ok);
    }
    asio_task_guard(const asio_task_guard&) = delete;
    asio_task_guard& operator=(const asio_task_guard&) = delete;

private:
    task_env env_;
    int exceptions_;
};

}  // namespace corostorm::runtime
