// The one clock of the runtime: steady_clock in nanoseconds. Deadlines,
// lateness and busy time are all differences of this clock.
#pragma once

#include <chrono>
#include <cstdint>

namespace corostorm::runtime {

inline std::uint64_t now_ns() noexcept {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

}  // namespace corostorm::runtime
