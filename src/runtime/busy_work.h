// Busy work: keeps the calling thread computing for a given amount of CPU
// time, the way a task doing real work between suspensions would. The
// amount is CPU time, not wall time, so a preempted thread still does all of
// its work (and takes longer, as a real computation would). Reads the
// thread's CPU clock every 64 iterations of a cheap integer loop; an empty
// asm statement consumes the result so the compiler cannot drop the work.
#pragma once

#include <cstdint>
#include <ctime>

namespace corostorm::runtime {

inline std::uint64_t thread_cpu_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

inline void busy_work(std::uint64_t ns) noexcept {
    if (ns == 0) return;
    const std::uint64_t end = thread_cpu_ns() + ns;
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    do {
        for (int i = 0; i < 64; ++i) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        asm volatile("" : : "r"(x));
    } while (thread_cpu_ns() < end);
}

}  // namespace corostorm::runtime
