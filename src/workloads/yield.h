// The `yield` workload: tasks that give the worker back and get resumed, over
// and over. Measures the cost of a context switch (resumes per second per
// busy core) and the ready-queue latency (source=ready: resume time minus the
// time the task became runnable). Optional busy work between yields.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>

#include "runtime/task.h"
#include "runtime/task_factory.h"
#include "workloads/tunable.h"

namespace corostorm::workloads {

// Read at every yield: a reload reaches running tasks at once.
struct yield_options {
    tunable<std::uint64_t> rounds = 0;   // yields before the task ends; 0 = forever
    tunable<std::uint64_t> work_ns = 0;  // busy work before each yield
};

runtime::task yielder(runtime::task_env env, const yield_options& options);
// Spawns the asio yielder in the worker's runtime.asio style (runtime/asio_task.h).
void spawn_asio_yielder(runtime::task_env env, runtime::worker& w, const yield_options& options);

class yield_workload final : public runtime::task_factory {
public:
    explicit yield_workload(yield_options options) : options_(options) {}
    void spawn(runtime::task_env env, runtime::worker&) override { yielder(env, options_); }
    void retune(const yield_options& options) noexcept { options_ = options; }

private:
    yield_options options_;
};

// The same on the asio engine: co_await asio::post(executor, use_awaitable).
class asio_yield_workload final : public runtime::task_factory {
public:
    explicit asio_yield_workload(yield_options options) : options_(options) {}
    void spawn(runtime::task_env env, runtime::worker& w) override;
    void retune(const yield_options& options) noexcept { options_ = options; }

private:
    yield_options options_;
};

// One asio yield: post to the task's own executor and resume when the post
// runs; counts the resume and samples the ready latency. Shared with cpu.
boost::asio::awaitable<void> asio_yield(runtime::task_env env, runtime::worker& w);

}  // namespace corostorm::workloads
