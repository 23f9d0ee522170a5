// The `yield` workload: tasks that give the worker back and get resumed, over
// and over. Measures the cost of a context switch (resumes per second per
// busy core) and the ready-queue latency (source=ready: resume time minus the
// time the task became runnable). Optional busy work between yields.
//
// The `cpu` workload is this one with its slice as the work: compute slices
// of a fixed CPU time separated by yields, a mix of CPU and scheduling. A
// worker running only these is always busy; next to sleepers it shows how
// compute delays timers on the same worker. Its options are yield_options
// with work_ns = slice and the same rounds (the assembly writes them so).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>

#include "runtime/task.h"
#include "workloads/tunable.h"
#include "workloads/workload.h"

namespace corostorm::workloads {

// Read at every yield: a reload reaches running tasks at once.
struct yield_options {
    tunable<std::uint64_t> rounds = 0;   // yields before the task ends; 0 = forever
    tunable<std::uint64_t> work_ns = 0;  // busy work before each yield
    // A reload's new values (both are tunable).
    void retune(const yield_options& o) noexcept { *this = o; }
};

runtime::task yielder(runtime::task_env env, const yield_options& options);

// The yield (and cpu) workload for workloads/workload.h. On the asio engine a
// yield is co_await asio::post(executor) in the worker's runtime.asio style.
struct yielders {
    using options = yield_options;
    static void spawn_lean(runtime::task_env env, runtime::worker&, const options& o) { yielder(env, o); }
    static void spawn_asio(runtime::task_env env, runtime::worker& w, const options& o);
};

// One asio yield: post to the task's own executor and resume when the post
// runs; counts the resume and samples the ready latency. Shared with spawn_tree.
boost::asio::awaitable<void> asio_yield(runtime::task_env env, runtime::worker& w);

}  // namespace corostorm::workloads
