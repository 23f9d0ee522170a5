// A single-slot channel between lean tasks of one worker: one value at a
// time, one receiver waiting at most. Ring workloads pass a token through a
// chain of these.
//
// Why single-slot and not a queue: a ring hands one token around, so a slot
// is all it needs, and the channel lives inside the receiving task's frame
// (24 bytes) with no allocation. A send wakes the waiting receiver through the
// worker's ready queue, so the hand-off latency is recorded as source=ready.
// Nothing is ever dropped: a channel has no close(); a ring ends by passing a
// value that means "stop".
// Thread-safety: none; sender and receiver run on the same worker.
#pragma once

#include <cassert>
#include <cstdint>

#include "runtime/worker.h"

namespace corostorm::runtime {

class channel {
public:
    // The slot must be empty: in a ring a task sends only after receiving.
    void send(std::uint64_t value) noexcept {
        assert(!full_ && "single-slot channel overrun");
        value_ = value;
        full_ = true;
        if (timer_node* receiver = receiver_) {
            receiver_ = nullptr;
            this_worker().hand_off(*receiver);
        }
    }

    struct receive_awaiter {
        channel& ch;
        bool await_ready() const noexcept { return ch.full_; }
        void await_suspend(task_handle h) const noexcept { ch.receiver_ = &h.promise().timer; }
        std::uint64_t await_resume() const noexcept {
            ch.full_ = false;
            return ch.value_;
        }
    };
    receive_awaiter receive() noexcept { return {*this}; }

private:
    std::uint64_t value_ = 0;
    timer_node* receiver_ = nullptr;
    bool full_ = false;
};

}  // namespace corostorm::runtime
