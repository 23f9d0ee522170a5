// The `cpu` workload: compute slices of a fixed length separated by yields,
// a mix of CPU and scheduling. A worker running only these is always busy;
// next to sleepers it shows how compute delays timers on the same worker.
#pragma once

#include <cstdint>

#include "runtime/worker.h"

namespace corostorm::workloads {

struct cpu_options {
    std::uint64_t slice_ns = 100'000;
    std::uint64_t rounds = 0;  // slices before the task ends; 0 = forever
};

runtime::task cruncher(runtime::task_env env, const cpu_options& options);

class cpu_workload final : public runtime::task_factory {
public:
    explicit cpu_workload(cpu_options options) : options_(options) {}
    void spawn(runtime::task_env env, runtime::worker&) override { cruncher(env, options_); }

private:
    cpu_options options_;
};

class asio_cpu_workload final : public runtime::task_factory {
public:
    explicit asio_cpu_workload(cpu_options options) : options_(options) {}
    void spawn(runtime::task_env env, runtime::worker& w) override;

private:
    cpu_options options_;
};

}  // namespace corostorm::workloads
