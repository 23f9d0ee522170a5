#include "workloads/yield.h"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

#include "runtime/asio_task.h"
#include "runtime/awaiters.h"
#include "runtime/busy_work.h"
#include "runtime/clock.h"
#include "runtime/worker.h"

namespace corostorm::workloads {

runtime::task yielder(runtime::task_env env, const yield_options& options) {
    for (std::uint64_t done = 0; options.rounds == 0 || done < options.rounds; ++done) {
        runtime::lean_busy_work(options.work_ns);
        co_await runtime::yield_now{};
        if (runtime::this_worker().should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
    }
    co_return runtime::task_outcome::ok;
}

namespace asio = boost::asio;

namespace {

// Executor and Ops: the runtime.asio style (runtime/asio_task.h).
template <class Executor, class Ops>
asio::awaitable<void, Executor> styled_yield(runtime::task_env env, runtime::worker& w) {
    const std::uint64_t runnable_ns = w.sample_latency() ? runtime::now_ns() : 0;
    co_await asio::post(co_await asio::this_coro::executor, runtime::asio_token<Executor>(w, Ops{}));
    w.count_resume(env.workload);
    if (runnable_ns != 0)
        w.record_latency(env.workload, metrics::latency_source::ready, runtime::now_ns() - runnable_ns);
}

template <class Executor, class Ops>
asio::awaitable<runtime::task_outcome, Executor> asio_yielder(runtime::task_env env, runtime::worker& w,
                                                              const yield_options& options) {
    for (std::uint64_t done = 0; options.rounds == 0 || done < options.rounds; ++done) {
        runtime::busy_work(options.work_ns);
        co_await styled_yield<Executor, Ops>(env, w);
        if (w.should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
    }
    co_return runtime::task_outcome::ok;
}

}  // namespace

asio::awaitable<void> asio_yield(runtime::task_env env, runtime::worker& w) {
    return styled_yield<asio::any_io_executor, runtime::asio_recycled_ops>(env, w);
}

void yielders::spawn_asio(runtime::task_env env, runtime::worker& w, const options& options) {
    runtime::with_asio_style(w, [&]<class Executor, class Ops>(const Executor& executor, Ops) {
        runtime::asio_spawn(w, env, executor, asio_yielder<Executor, Ops>(env, w, options));
    });
}

}  // namespace corostorm::workloads
