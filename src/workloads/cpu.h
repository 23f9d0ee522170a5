// The `cpu` workload: compute slices of a fixed CPU time separated by yields,
// a mix of CPU and scheduling. A worker running only these is always busy;
// next to sleepers it shows how compute delays timers on the same worker.
// Its task is the yield workload's task with the slice as its work: the same
// coroutine, with the slice as the point rather than the yield.
#pragma once

#include <cstdint>

#include "runtime/task_factory.h"
#include "workloads/yield.h"

namespace corostorm::workloads {

struct cpu_options {
    std::uint64_t slice_ns = 100'000;
    std::uint64_t rounds = 0;  // slices before the task ends; 0 = forever
};

class cpu_workload final : public runtime::task_factory {
public:
    explicit cpu_workload(cpu_options options)
        : as_yield_{.rounds = options.rounds, .work_ns = options.slice_ns} {}
    void spawn(runtime::task_env env, runtime::worker&) override { yielder(env, as_yield_); }
    void retune(const cpu_options& options) noexcept {
        as_yield_ = {.rounds = options.rounds, .work_ns = options.slice_ns};
    }

private:
    yield_options as_yield_;
};

class asio_cpu_workload final : public runtime::task_factory {
public:
    explicit asio_cpu_workload(cpu_options options)
        : as_yield_{.rounds = options.rounds, .work_ns = options.slice_ns} {}
    void spawn(runtime::task_env env, runtime::worker& w) override;
    void retune(const cpu_options& options) noexcept {
        as_yield_ = {.rounds = options.rounds, .work_ns = options.slice_ns};
    }

private:
    yield_options as_yield_;
};

}  // namespace corostorm::workloads
