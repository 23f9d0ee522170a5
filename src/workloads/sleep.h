// The `sleep` workload: periodic sleepers, the "million idle connections" shape.
//
// Each task sleeps until its next deadline, wakes, optionally computes for
// `work_ns`, and sleeps again: deadline(k+1) = deadline(k) + period, starting
// from a random phase within one period of its spawn. Deadlines follow the
// *intended* schedule, not the actual wake time, so a late wake does not push
// later deadlines back and the timer lateness is measured without
// coordinated omission. `rounds` = 0 sleeps forever; a task also ends
// (outcome cancelled) when its worker has more tasks of this workload than
// the target, or is stopping.
#pragma once

#include <cstdint>

#include "runtime/task.h"
#include "workloads/tunable.h"
#include "workloads/workload.h"

namespace corostorm::workloads {

// Read at every wake-up, so a reload reaches sleeping tasks at their next
// one; `rounds` is read when a task starts.
struct sleep_options {
    tunable<std::uint64_t> period_ns = 1'000'000'000;
    tunable<std::uint64_t> rounds = 0;   // 0 = forever
    tunable<std::uint64_t> work_ns = 0;  // busy work after each wake-up
    // A reload's new values (all three are tunable).
    void retune(const sleep_options& o) noexcept { *this = o; }
};

// `options` must outlive the task (the workload owns it). Parameters and
// locals are few on purpose: each is a frame field, paid once per task, and
// GCC 12 gives every co_await expression its own slot. The deadline lives in
// the task's timer node (runtime::every), not in the frame; so sleeping
// forever (rounds = 0) and counting rounds are two coroutines, and the
// common one carries no counter: 88 bytes of frame with g++ 12 (the test
// pins that figure, so a change that grows it is seen).
runtime::task sleeper(runtime::task_env env, const sleep_options* options);
runtime::task counted_sleeper(runtime::task_env env, const sleep_options* options);

// The sleep workload for workloads/workload.h. On the asio engine each task
// has its own asio::steady_timer.
struct sleepers {
    using options = sleep_options;
    // Inline: the factory's spawn() calls straight into the coroutine.
    static void spawn_lean(runtime::task_env env, runtime::worker&, const options& o) {
        if (o.rounds == 0) {
            sleeper(env, &o);
        } else {
            counted_sleeper(env, &o);
        }
    }
    static void spawn_asio(runtime::task_env env, runtime::worker& w, const options& o);
};

}  // namespace corostorm::workloads
