// Joining child tasks: a parent sets how many children it spawned, each
// child reports its result when it finishes, and the parent's co_await
// resumes once all have (through the ready queue, so the wait shows as
// source=ready). Lives in the parent's frame; no allocation.
// Children start running as soon as they are spawned (lean tasks start
// eagerly), so a parent whose children all finished synchronously does not
// suspend at all.
// Thread-safety: none; parent and children run on the same worker.
#pragma once

#include <cassert>
#include <cstdint>

#include "runtime/worker.h"

namespace corostorm::runtime {

class join_counter {
public:
    explicit join_counter(std::uint64_t children) noexcept : pending_(children) {}

    // Called by each child as its last act.
    void child_done(std::uint64_t result) noexcept {
        assert(pending_ > 0);
        sum_ += result;
        if (--pending_ == 0 && waiter_ != nullptr) {
            timer_node* w = waiter_;
            waiter_ = nullptr;
            this_worker().hand_off(*w);
        }
    }

    struct wait_awaiter {
        join_counter& join;
        bool await_ready() const noexcept { return join.pending_ == 0; }
        void await_suspend(task_handle h) const noexcept { join.waiter_ = &h.promise().timer; }
        std::uint64_t await_resume() const noexcept { return join.sum_; }
    };
    // The sum of the children's results, once all have reported.
    wait_awaiter wait() noexcept { return {*this}; }

private:
    std::uint64_t pending_;
    std::uint64_t sum_ = 0;
    timer_node* waiter_ = nullptr;
};

}  // namespace corostorm::runtime
