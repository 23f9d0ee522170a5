#include "workloads/sleep.h"

#include <boost/asio/this_coro.hpp>

#include "runtime/asio_task.h"
#include "runtime/awaiters.h"
#include "runtime/busy_work.h"
#include "runtime/clock.h"
#include "runtime/worker.h"

namespace corostorm::workloads {

runtime::task sleeper(runtime::task_env env, const sleep_options* options) {
    for (;;) {
        co_await runtime::every{options->period_ns};
        if (runtime::this_worker().should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
        runtime::lean_busy_work(options->work_ns);
    }
}

runtime::task counted_sleeper(runtime::task_env env, const sleep_options* options) {
    for (std::uint64_t left = options->rounds; left != 0; --left) {
        co_await runtime::every{options->period_ns};
        if (runtime::this_worker().should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
        runtime::lean_busy_work(options->work_ns);
    }
    co_return runtime::task_outcome::ok;
}

namespace {

namespace asio = boost::asio;

// Executor and Ops: the runtime.asio style (runtime/asio_task.h).
template <class Executor, class Ops>
asio::awaitable<runtime::task_outcome, Executor> asio_sleeper(runtime::task_env env, runtime::worker& w,
                                                              const sleep_options& options,
                                                              std::uint64_t deadline_ns) {
    runtime::asio_timer<Executor> timer(co_await asio::this_coro::executor);
    for (std::uint64_t done = 0; options.rounds == 0 || done < options.rounds; ++done) {
        timer.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns)));
        co_await timer.async_wait(runtime::asio_token<Executor>(w, Ops{}));
        runtime::asio_timer_woke(w, env.workload, deadline_ns);
        if (w.should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
        runtime::busy_work(options.work_ns);
        deadline_ns += options.period_ns;
    }
    co_return runtime::task_outcome::ok;
}

}  // namespace

void sleepers::spawn_asio(runtime::task_env env, runtime::worker& w, const options& o) {
    const std::uint64_t deadline_ns = runtime::now_ns() + w.random() % o.period_ns;
    runtime::with_asio_style(w, [&]<class Executor, class Ops>(const Executor& executor, Ops) {
        runtime::asio_spawn(w, env, executor, asio_sleeper<Executor, Ops>(env, w, o, deadline_ns));
    });
}

}  // namespace corostorm::workloads
