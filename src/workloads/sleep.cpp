#include "workloads/sleep.h"

#include "runtime/clock.h"

namespace corostorm::workloads {

runtime::task sleeper(runtime::task_env env, const sleep_options& options, std::uint64_t deadline_ns) {
    for (std::uint64_t done = 0; options.rounds == 0 || done < options.rounds; ++done) {
        co_await runtime::sleep_until{deadline_ns};
        if (runtime::this_worker().should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
        deadline_ns += options.period_ns;
    }
    co_return runtime::task_outcome::ok;
}

void sleep_workload::spawn(runtime::task_env env, runtime::worker& w) {
    const std::uint64_t phase = w.random() % options_.period_ns;
    sleeper(env, options_, runtime::now_ns() + phase);
}

}  // namespace corostorm::workloads
