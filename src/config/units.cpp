// Counts, durations, sizes and percentages as users write them, and back.
#include "config/units.h"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>
#include <span>

#include "config/config.h"

namespace corostorm::config {
namespace detail {
namespace {

struct unit {
    std::string_view suffix;
    std::uint64_t factor;
};

constexpr std::uint64_t kilo = 1'000;
constexpr std::uint64_t mega = 1'000'000;
constexpr std::uint64_t giga = 1'000'000'000;
constexpr std::uint64_t tera = 1'000'000'000'000;
constexpr std::uint64_t kibi = 1ULL << 10U;
constexpr std::uint64_t mebi = 1ULL << 20U;
constexpr std::uint64_t gibi = 1ULL << 30U;
constexpr std::uint64_t tebi = 1ULL << 40U;
constexpr std::uint64_t ns_per_s = giga;

// Largest factor first: the formatters take the first unit that divides exactly.
constexpr std::array count_units{unit{"G", giga}, unit{"M", mega}, unit{"k", kilo}};
constexpr std::array duration_units{unit{"d", 86'400 * ns_per_s},
                                    unit{"h", 3'600 * ns_per_s},
                                    unit{"m", 60 * ns_per_s},
                                    unit{"s", ns_per_s},
                                    unit{"ms", mega},
                                    unit{"us", kilo},
                                    unit{"ns", 1}};
// "B" last: a size no larger unit divides is written in bytes as 1001B, not a bare 1001.
constexpr std::array size_units{unit{"TiB", tebi}, unit{"GiB", gibi}, unit{"MiB", mebi},
                                unit{"KiB", kibi}, unit{"TB", tera},  unit{"GB", giga},
                                unit{"MB", mega},  unit{"KB", kilo},  unit{"B", 1}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
    if (b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b) {
        return false;
    }
    out = a * b;
    return true;
}

bool checked_add(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
    if (a > std::numeric_limits<std::uint64_t>::max() - b) {
        return false;
    }
    out = a + b;
    return true;
}

std::size_t digit_run(std::string_view text, std::size_t from) {
    std::size_t end = from;
    while (end < text.size() && is_digit(text[end])) {
        ++end;
    }
    return end - from;
}

// Parses all of `digits` (only '0'..'9'); false on overflow.
bool to_u64(std::string_view digits, std::uint64_t& out) {
    out = 0;
    for (const char c : digits) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (!checked_mul(out, 10, out) || !checked_add(out, digit, out)) {
            return false;
        }
    }
    return true;
}

// The shared grammar: DIGITS [ "." DIGITS ] SUFFIX, where SUFFIX may be empty only when
// `bare_allowed` (and then no fraction is allowed: "1.5" is not a count).
parsed_number parse_magnitude(std::string_view text, std::span<const unit> units, bool bare_allowed) {
    const std::size_t int_len = digit_run(text, 0);
    if (int_len == 0) {
        return {};
    }
    std::string_view fraction;
    std::size_t pos = int_len;
    if (pos < text.size() && text[pos] == '.') {
        const std::size_t frac_len = digit_run(text, pos + 1);
        if (frac_len == 0) {
            return {};
        }
        fraction = text.substr(pos + 1, frac_len);
        pos += 1 + frac_len;
    }
    const std::string_view suffix = text.substr(pos);
    std::uint64_t factor = 0;
    if (suffix.empty()) {
        if (!bare_allowed || !fraction.empty()) {
            return {};
        }
        factor = 1;
    } else {
        for (const unit& u : units) {
            if (u.suffix == suffix) {
                factor = u.factor;
            }
        }
        if (factor == 0) {
            return {};
        }
    }

    std::uint64_t whole = 0;
    if (!to_u64(text.substr(0, int_len), whole) || !checked_mul(whole, factor, whole)) {
        return {parse_status::out_of_range, 0};
    }
    while (!fraction.empty() && fraction.back() == '0') {
        fraction.remove_suffix(1);
    }
    // 10^18 is the largest power of ten in a uint64; no factor needs more fraction digits
    // than that to come out whole.
    if (fraction.size() > 18) {
        return {};
    }
    std::uint64_t frac_digits = 0;
    std::uint64_t frac_scale = 1;
    to_u64(fraction, frac_digits);
    for (std::size_t i = 0; i < fraction.size(); ++i) {
        frac_scale *= 10;
    }
    // frac_digits / frac_scale * factor must be whole; cancel the common part first so the
    // product cannot overflow unless the true value does.
    const std::uint64_t common = std::gcd(factor, frac_scale);
    const std::uint64_t scale = frac_scale / common;
    if (frac_digits % scale != 0) {
        return {};
    }
    std::uint64_t part = 0;
    std::uint64_t total = 0;
    if (!checked_mul(frac_digits / scale, factor / common, part) || !checked_add(whole, part, total)) {
        return {parse_status::out_of_range, 0};
    }
    return {parse_status::ok, total};
}

parsed_number parse_scaled(std::string_view text, std::span<const unit> units, bool bare_allowed) {
    if (text.empty() || text.front() != '-') {
        return parse_magnitude(text, units, bare_allowed);
    }
    // A negative number is well-formed but below every range we accept.
    const parsed_number magnitude = parse_magnitude(text.substr(1), units, bare_allowed);
    return {
        magnitude.status == parse_status::malformed ? parse_status::malformed : parse_status::out_of_range,
        0};
}

std::string format_scaled(std::uint64_t n, std::span<const unit> units, std::string_view zero) {
    if (n == 0) {
        return std::string(zero);
    }
    for (const unit& u : units) {
        if (n % u.factor == 0) {
            return std::to_string(n / u.factor) + std::string(u.suffix);
        }
    }
    return std::to_string(n);
}

}  // namespace

parsed_number parse_count_text(std::string_view text) { return parse_scaled(text, count_units, true); }

parsed_number parse_duration_text(std::string_view text) {
    parsed_number result = parse_scaled(text, duration_units, false);
    if (result.status == parse_status::ok &&
        result.value > static_cast<std::uint64_t>(std::numeric_limits<duration::rep>::max())) {
        return {parse_status::out_of_range, 0};
    }
    return result;
}

parsed_number parse_size_text(std::string_view text) { return parse_scaled(text, size_units, true); }

std::string format_percent(double fraction) {
    // Shortest fixed notation of the fraction, with the decimal point moved two places:
    // the same digits parse_percent hands to from_chars, so the round trip is exact.
    std::array<char, 512> buf{};
    const auto [end, ec] =
        std::to_chars(buf.data(), buf.data() + buf.size(), fraction, std::chars_format::fixed);
    if (ec != std::errc{}) {
        return "?%";
    }
    const std::string_view text(buf.data(), static_cast<std::size_t>(end - buf.data()));
    const std::size_t dot = text.find('.');
    std::string digits(text.substr(0, dot));
    std::string frac(dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1));
    if (frac.size() < 2) {
        frac.resize(2, '0');
    }
    digits += frac.substr(0, 2);
    const std::size_t first = std::min(digits.find_first_not_of('0'), digits.size() - 1);
    std::string out = digits.substr(first);
    if (frac.size() > 2) {
        out += '.';
        out += frac.substr(2);
    }
    return out + '%';
}

}  // namespace detail

std::optional<std::uint64_t> parse_count(std::string_view text) {
    const detail::parsed_number r = detail::parse_count_text(text);
    return r.status == detail::parse_status::ok ? std::optional(r.value) : std::nullopt;
}

std::optional<duration> parse_duration(std::string_view text) {
    const detail::parsed_number r = detail::parse_duration_text(text);
    if (r.status != detail::parse_status::ok) {
        return std::nullopt;
    }
    return duration(static_cast<duration::rep>(r.value));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    const detail::parsed_number r = detail::parse_size_text(text);
    return r.status == detail::parse_status::ok ? std::optional(r.value) : std::nullopt;
}

std::optional<double> parse_percent(std::string_view text) {
    if (text.size() < 2 || text.back() != '%') {
        return std::nullopt;
    }
    const std::string_view number = text.substr(0, text.size() - 1);
    const std::size_t int_len = detail::digit_run(number, 0);
    std::string_view frac;
    if (int_len < number.size()) {
        frac = number.substr(int_len + 1);
        if (number[int_len] != '.' || frac.empty() || detail::digit_run(frac, 0) != frac.size()) {
            return std::nullopt;
        }
    }
    if (int_len == 0) {
        return std::nullopt;
    }
    // Divide by 100 in decimal, by moving the point two places left ("12.5" -> "00.125"),
    // so from_chars rounds only once.
    std::string shifted(2, '0');
    shifted += number.substr(0, int_len);
    shifted += frac;
    shifted.insert(int_len, 1, '.');
    double value = 0;
    const auto [end, ec] =
        std::from_chars(shifted.data(), shifted.data() + shifted.size(), value, std::chars_format::fixed);
    if (ec != std::errc{} || end != shifted.data() + shifted.size() || !std::isfinite(value)) {
        return std::nullopt;
    }
    return value;
}

std::string format_count(std::uint64_t n) { return detail::format_scaled(n, detail::count_units, "0"); }

std::string format_duration(duration d) {
    const auto ns = d.count();
    if (ns < 0) {
        // Magnitude as unsigned, so the most negative value does not overflow.
        return std::string("-").append(
            detail::format_scaled(0 - static_cast<std::uint64_t>(ns), detail::duration_units, "0s"));
    }
    return detail::format_scaled(static_cast<std::uint64_t>(ns), detail::duration_units, "0s");
}

std::string format_size(std::uint64_t bytes) { return detail::format_scaled(bytes, detail::size_units, "0"); }

}  // namespace corostorm::config
