#include "runtime/target_ramp.h"

namespace corostorm::runtime {

std::uint64_t target_ramp::at(std::uint64_t now_ns) const noexcept {
    if (over_ns == 0 || now_ns >= start_ns + over_ns) return to;
    if (now_ns <= start_ns) return from;
    const double progress = static_cast<double>(now_ns - start_ns) / static_cast<double>(over_ns);
    const double value =
        static_cast<double>(from) + (static_cast<double>(to) - static_cast<double>(from)) * progress;
    return static_cast<std::uint64_t>(value);
}

}  // namespace corostorm::runtime
