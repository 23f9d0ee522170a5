// Busy work: keeps the calling thread computing for a given time, the way a
// task doing real work between suspensions would. Reads the clock every 64
// iterations of a cheap integer loop; an empty asm statement consumes the
// result so the compiler cannot drop the work.
#pragma once

#include <cstdint>

#include "runtime/clock.h"

namespace corostorm::runtime {

inline void busy_work(std::uint64_t ns) noexcept {
    if (ns == 0) return;
    const std::uint64_t end = now_ns() + ns;
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    do {
        for (int i = 0; i < 64; ++i) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        asm volatile("" : : "r"(x));
    } while (now_ns() < end);
}

}  // namespace corostorm::runtime
