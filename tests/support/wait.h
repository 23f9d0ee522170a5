// Test helper: poll a condition with a deadline instead of sleeping blindly.
#pragma once

#include <chrono>
#include <thread>

namespace corostorm::testing {

// True as soon as pred() is; false when `limit` passes first. Polls every millisecond.
template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace corostorm::testing
