#include "workloads/cpu.h"

#include "runtime/asio_task.h"
#include "runtime/busy_work.h"
#include "workloads/yield.h"

namespace corostorm::workloads {

runtime::task cruncher(runtime::task_env env, const cpu_options& options) {
    for (std::uint64_t done = 0; options.rounds == 0 || done < options.rounds; ++done) {
        runtime::busy_work(options.slice_ns);
        co_await runtime::yield_now{};
        if (runtime::this_worker().should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
    }
    co_return runtime::task_outcome::ok;
}

namespace {

boost::asio::awaitable<runtime::task_outcome> asio_cruncher(runtime::task_env env, runtime::worker& w,
                                                            const cpu_options& options) {
    for (std::uint64_t done = 0; options.rounds == 0 || done < options.rounds; ++done) {
        runtime::busy_work(options.slice_ns);
        co_await asio_yield(env, w);
        if (w.should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
    }
    co_return runtime::task_outcome::ok;
}

}  // namespace

void asio_cpu_workload::spawn(runtime::task_env env, runtime::worker& w) {
    runtime::asio_spawn(w, env, asio_cruncher(env, w, options_));
}

}  // namespace corostorm::workloads
