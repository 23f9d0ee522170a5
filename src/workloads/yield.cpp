#include "workloads/yield.h"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

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

asio::awaitable<void> asio_yield(runtime::task_env env, runtime::worker& w) {
    const std::uint64_t runnable_ns = w.sample_latency() ? runtime::now_ns() : 0;
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    w.count_resume(env.workload);
    if (runnable_ns != 0)
        w.record_latency(env.workload, metrics::latency_source::ready, runtime::now_ns() - runnable_ns);
}

asio::awaitable<runtime::task_outcome> asio_yielder(runtime::task_env env, runtime::worker& w,
                                                    const yield_options& options) {
    for (std::uint64_t done = 0; options.rounds == 0 || done < options.rounds; ++done) {
        runtime::busy_work(options.work_ns);
        co_await asio_yield(env, w);
        if (w.should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
    }
    co_return runtime::task_outcome::ok;
}

void asio_yield_workload::spawn(runtime::task_env env, runtime::worker& w) {
    runtime::asio_spawn(w, env, asio_yielder(env, w, options_));
}

}  // namespace corostorm::workloads
