// Figures as the reports and log lines print them: digit groups for counts, one
// decimal for bytes. The one place these spellings live, so prove's table, the
// daemon's log, the memory guard's messages and the benchmarks agree.
//
// Design note. Pure functions, no state, safe from any thread; each call builds
// one short string. Not for the hot paths. The config's round-trip spellings
// ("10M", "512MiB": config::format_count and config::format_size) are the
// config's own grammar and stay there. This library depends on fmt alone, so
// every module may link it.
#pragma once

#include <cstdint>
#include <string>

namespace corostorm::text {

// 6172839 -> "6,172,839".
std::string group_digits(std::uint64_t n);

enum class byte_unit {
    byte,        // "88.0 B"
    mib,         // "512.0 MiB"
    gib,         // "7.6 GiB"
    mib_or_gib,  // MiB below 1 GiB, GiB from 1 GiB on
};

// `bytes` in `unit` with one decimal (binary units: 1 MiB = 1024 * 1024 bytes).
std::string format_bytes(double bytes, byte_unit unit);
std::string format_bytes(std::uint64_t bytes, byte_unit unit);

}  // namespace corostorm::text
