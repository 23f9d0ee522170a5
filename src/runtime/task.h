// The lean task: corostorm's minimal stackless coroutine type.
//
// Design note. A lean task is fire-and-forget *within a scope*: it starts
// running as soon as it is called (initial_suspend never suspends), runs on the
// worker that spawned it until it finishes, and frees its own frame at the
// end. Its promise is the whole per-task state the runtime keeps:
//   - an intrusive timer node (next pointer + deadline), so sleeping needs no
//     allocation beyond the frame;
//   - the workload index and exact frame size, for accounting.
// The frame comes from the worker's frame_allocator (operator new below) and
// the worker's spawn scope counts it: spawned when the promise is built,
// completed (ok / error / cancelled) when it finishes. An exception escaping a
// task is caught by the promise and counted as an error; it never reaches the
// worker loop.
// A coroutine is a lean task when it returns `task` and its first parameter
// is a `task_env`. Spawn one by calling it on its worker's thread (from a
// task_factory's spawn, or from another lean task, as a ring or a tree does).
// Thread-safety: a task only ever runs on its worker's thread.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>

#include "metrics/recorder.h"
#include "runtime/timer_wheel.h"

namespace corostorm::runtime {

using metrics::task_outcome;

// What every lean task receives first: which workload it belongs to, and
// whether it is a unit of that workload's target (a plain task, a ring's
// leader, a tree's root) or a helper the unit spawned (ring member, subtree).
struct task_env {
    std::uint16_t workload = 0;
    bool root = true;
    // May wait in the ready queue instead of starting at once when the
    // worker's turn is spent (see worker::start_now): for children whose
    // spawner does not need them to have run before it goes on (tree nodes).
    bool may_queue = false;

    task_env child() const noexcept { return {workload, false, false}; }
    task_env queued_child() const noexcept { return {workload, false, true}; }
};

namespace detail {
void* allocate_frame(std::size_t n);
void deallocate_frame(void* p, std::size_t n) noexcept;
std::uint32_t take_last_frame_size() noexcept;
void task_started(task_env env, std::uint32_t frame_bytes) noexcept;
bool starts_at_once() noexcept;  // the decision task_started made for the task being built
void start_later(timer_node* node) noexcept;
void task_finished(task_env env, std::uint32_t frame_bytes, task_outcome outcome) noexcept;
}  // namespace detail

class task {
public:
    struct promise_type {
        template <class... Args>
        explicit promise_type(task_env env, Args&&...) noexcept
            : frame_bytes(detail::take_last_frame_size()), workload(env.workload), root(env.root) {
            detail::task_started(env, frame_bytes);
        }

        static void* operator new(std::size_t n) { return detail::allocate_frame(n); }
        static void operator delete(void* p, std::size_t n) noexcept { detail::deallocate_frame(p, n); }

        // A task starts at once, running until its first suspension inside
        // the spawner's call, unless the worker's turn is spent and the task
        // may queue: then it waits in the ready queue like a yielded task.
        struct initial_awaiter {
            bool await_ready() const noexcept { return detail::starts_at_once(); }
            void await_suspend(std::coroutine_handle<promise_type> h) const noexcept {
                detail::start_later(&h.promise().timer);
            }
            void await_resume() const noexcept {}
        };

        task get_return_object() noexcept { return {}; }
        initial_awaiter initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept {
            detail::task_finished(task_env{workload, root}, frame_bytes, outcome);
            return {};
        }
        void return_value(task_outcome o) noexcept { outcome = o; }
        void unhandled_exception() noexcept { outcome = task_outcome::error; }

        static promise_type& of(timer_node* n) noexcept {
            return *reinterpret_cast<promise_type*>(reinterpret_cast<std::byte*>(n) -
                                                    offsetof(promise_type, timer));
        }

        // 24 bytes in all: every byte here is paid a million times.
        timer_node timer;           // linked while the task sleeps or waits to run
        std::uint32_t frame_bytes;  // exact size the compiler asked for
        std::uint16_t workload;
        bool root;
        task_outcome outcome = task_outcome::ok;
    };
};

using task_handle = std::coroutine_handle<task::promise_type>;

}  // namespace corostorm::runtime
