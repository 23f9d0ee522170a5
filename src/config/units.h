// Unit grammar behind parse_count/parse_duration/parse_size/parse_percent, private to the
// config module. The public functions only say "no"; the validator also needs to know
// *why* (malformed text vs. a well-formed number that is negative or too large), so it can
// answer "must be between 0 and 1024" instead of "must be a count".
// Pure functions, no state; cost is linear in the text length.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace corostorm::config::detail {

enum class parse_status { ok, malformed, out_of_range };

struct parsed_number {
    parse_status status = parse_status::malformed;
    std::uint64_t value = 0;
};

// Each accepts digits, optionally "." and more digits when a suffix follows, then one
// suffix; the result must be a whole number of the base unit. A leading '-' before an
// otherwise valid number gives out_of_range, as does anything above UINT64_MAX.
parsed_number parse_count_text(std::string_view text);     // base unit 1; k M G
parsed_number parse_duration_text(std::string_view text);  // base unit 1ns; ns us ms s m h d
parsed_number parse_size_text(std::string_view text);      // base unit 1 byte

// A fraction written as a percentage, "12.5%" -> 0.125, chosen so that
// parse_percent(format_percent(x)) == x for every x parse_percent returns.
std::string format_percent(double fraction);

}  // namespace corostorm::config::detail
