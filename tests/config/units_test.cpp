// Unit parsing and formatting: what each grammar accepts, what it refuses, and that
// formatting reads back as the same value.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "config/config.h"

namespace corostorm::config {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

struct count_case {
    const char* text;
    std::uint64_t value;
};

TEST(ParseCount, accepts_digits_and_one_suffix) {
    const count_case cases[] = {
        {"0", 0},
        {"1000", 1000},
        {"007", 7},
        {"1k", 1000},
        {"1M", 1'000'000},
        {"10M", 10'000'000},
        {"2G", 2'000'000'000},
        {"1.5M", 1'500'000},
        {"2.50k", 2500},
        {"0.001k", 1},
        {"18446744073709551615", u64_max},
        {"18446744073G", 18'446'744'073'000'000'000ULL},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(parse_count(c.text), c.value) << c.text;
    }
}

TEST(ParseCount, refuses_malformed_negative_and_overflowing_text) {
    const char* const cases[] = {
        "",
        " 1M",
        "1M ",
        "1 M",
        "-1",
        "-1k",
        "+1",
        "1.5",
        "1.",
        ".5k",
        "1.0001k",
        "1X",
        "1m",
        "1K",
        "1kM",
        "1e6",
        "1_000_000",
        "0x10",
        "true",
        "M",
        "1,000",
        "99999999999999999999",
        "18446744073709551616",
        "18446744074G",
        "１",
    };
    for (const char* text : cases) {
        EXPECT_EQ(parse_count(text), std::nullopt) << '"' << text << '"';
    }
}

struct duration_case {
    const char* text;
    duration value;
};

TEST(ParseDuration, accepts_a_number_with_a_unit) {
    const duration_case cases[] = {
        {"100ns", 100ns}, {"500us", 500us}, {"250ms", 250ms},    {"30s", 30s},
        {"5m", 5min},     {"1h", 1h},       {"1d", 24h},         {"0s", 0s},
        {"1.5s", 1500ms}, {"0.5ms", 500us}, {"365d", 24h * 365}, {"106751d", 24h * 106751},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(parse_duration(c.text), c.value) << c.text;
    }
}

TEST(ParseDuration, refuses_bare_numbers_unknown_units_and_overflow) {
    const char* const cases[] = {
        "30",   "0",   "",      "s",       "1x",
        "1 s",  " 1s", "-1s",   "1.5",     "1.s",
        "1sec", "1S",  "0.5ns", "106752d", "9999999999999999999d",
    };
    for (const char* text : cases) {
        EXPECT_EQ(parse_duration(text), std::nullopt) << '"' << text << '"';
    }
}

TEST(ParseSize, accepts_bytes_decimal_and_binary_units) {
    const count_case cases[] = {
        {"1000", 1000},          {"1KB", 1000},
        {"1MB", 1'000'000},      {"1GB", 1'000'000'000},
        {"1KiB", 1024},          {"512MiB", 512ULL << 20U},
        {"8GiB", 8ULL << 30U},   {"1TiB", 1ULL << 40U},
        {"1.5GiB", 3ULL << 29U}, {"16777215TiB", 16777215ULL << 40U},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(parse_size(c.text), c.value) << c.text;
    }
}

TEST(ParseSize, accepts_bytes_written_with_a_b) {
    EXPECT_EQ(parse_size("64B"), 64U);
    EXPECT_EQ(parse_size("0B"), 0U);
    EXPECT_EQ(parse_size("65536B"), 65536U);
    EXPECT_EQ(parse_size("1.0B"), 1U);
    for (const char* text : {"64b", "64 B", "B", "1BB", "1.5B", "-1B"}) {
        EXPECT_EQ(parse_size(text), std::nullopt) << '"' << text << '"';
    }
}

TEST(ParseSize, refuses_other_spellings_and_overflow) {
    const char* const cases[] = {
        "",
        "1kb",
        "1Kb",
        "1 MiB",
        "-1MiB",
        "1.5",
        "MiB",
        "1MIB",
        "1.1B",
        "16777216TiB",
        "18446744073709551616",
    };
    for (const char* text : cases) {
        EXPECT_EQ(parse_size(text), std::nullopt) << '"' << text << '"';
    }
}

TEST(ParsePercent, gives_the_fraction) {
    EXPECT_EQ(parse_percent("10%"), 0.10);
    EXPECT_EQ(parse_percent("12.5%"), 0.125);
    EXPECT_EQ(parse_percent("0%"), 0.0);
    EXPECT_EQ(parse_percent("90%"), 0.9);
    EXPECT_EQ(parse_percent("100%"), 1.0);
    EXPECT_EQ(parse_percent("0.5%"), 0.005);
    EXPECT_EQ(parse_percent("007%"), 0.07);
}

TEST(ParsePercent, refuses_anything_but_digits_and_a_percent_sign) {
    const char* const cases[] = {"10", "%", "-5%", "1.%", ".5%", " 10%", "10 %", "10%%", "abc%", "1e2%", ""};
    for (const char* text : cases) {
        EXPECT_EQ(parse_percent(text), std::nullopt) << '"' << text << '"';
    }
}

TEST(FormatCount, uses_the_largest_suffix_that_divides_exactly) {
    EXPECT_EQ(format_count(0), "0");
    EXPECT_EQ(format_count(999), "999");
    EXPECT_EQ(format_count(1000), "1k");
    EXPECT_EQ(format_count(1500), "1500");
    EXPECT_EQ(format_count(1'000'000), "1M");
    EXPECT_EQ(format_count(1'001'000), "1001k");
    EXPECT_EQ(format_count(2'000'000'000), "2G");
    EXPECT_EQ(format_count(10'000'000'000), "10G");
    EXPECT_EQ(format_count(u64_max), "18446744073709551615");
}

TEST(FormatDuration, uses_the_largest_unit_that_divides_exactly) {
    EXPECT_EQ(format_duration(0s), "0s");
    EXPECT_EQ(format_duration(30s), "30s");
    EXPECT_EQ(format_duration(90s), "90s");
    EXPECT_EQ(format_duration(10min), "10m");
    EXPECT_EQ(format_duration(1h), "1h");
    EXPECT_EQ(format_duration(24h), "1d");
    EXPECT_EQ(format_duration(250ms), "250ms");
    EXPECT_EQ(format_duration(1500ms), "1500ms");
    EXPECT_EQ(format_duration(500us), "500us");
    EXPECT_EQ(format_duration(1ns), "1ns");
    EXPECT_EQ(format_duration(-2s), "-2s");
}

TEST(FormatSize, prefers_binary_units_then_decimal_then_bytes) {
    EXPECT_EQ(format_size(0), "0");
    EXPECT_EQ(format_size(1001), "1001B");
    EXPECT_EQ(format_size(16), "16B");
    EXPECT_EQ(format_size(65536), "64KiB");
    EXPECT_EQ(format_size(1000), "1KB");
    EXPECT_EQ(format_size(1024), "1KiB");
    EXPECT_EQ(format_size(512ULL << 20U), "512MiB");
    EXPECT_EQ(format_size(8ULL << 30U), "8GiB");
    EXPECT_EQ(format_size(1ULL << 40U), "1TiB");
    EXPECT_EQ(format_size(3'000'000'000), "3GB");
}

TEST(Units, formatted_values_parse_back_to_the_same_value) {
    const std::uint64_t numbers[] = {0,           1,          7,         999,         1000,           1024,
                                     1500,        1'000'000,  1'048'576, 123'456'789, 10'000'000'000, u64_max,
                                     u64_max - 1, 1ULL << 40U};
    for (const std::uint64_t n : numbers) {
        EXPECT_EQ(parse_count(format_count(n)), n) << n;
        EXPECT_EQ(parse_size(format_size(n)), n) << n;
        if (n <= static_cast<std::uint64_t>(std::numeric_limits<duration::rep>::max())) {
            const duration d(static_cast<duration::rep>(n));
            EXPECT_EQ(parse_duration(format_duration(d)), d) << n;
        }
    }
}

}  // namespace
}  // namespace corostorm::config
