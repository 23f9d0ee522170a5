#include "text/format.h"

#include <fmt/format.h>

namespace corostorm::text {

std::string group_digits(std::uint64_t n) {
    const std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string format_bytes(double bytes, byte_unit unit) {
    constexpr double mib = 1024.0 * 1024.0;
    constexpr double gib = 1024.0 * mib;
    switch (unit) {
        case byte_unit::byte:
            break;
        case byte_unit::mib:
            return fmt::format("{:.1f} MiB", bytes / mib);
        case byte_unit::gib:
            return fmt::format("{:.1f} GiB", bytes / gib);
        case byte_unit::mib_or_gib:
            return bytes < gib ? format_bytes(bytes, byte_unit::mib) : format_bytes(bytes, byte_unit::gib);
    }
    return fmt::format("{:.1f} B", bytes);
}

std::string format_bytes(std::uint64_t bytes, byte_unit unit) {
    return format_bytes(static_cast<double>(bytes), unit);
}

}  // namespace corostorm::text
