#include "text/format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace corostorm::text {
namespace {

constexpr double mib = 1024.0 * 1024.0;
constexpr double gib = 1024.0 * mib;

TEST(GroupDigits, a_comma_before_every_three_digits_from_the_right) {
    const struct {
        std::uint64_t n;
        const char* text;
    } cases[] = {{0, "0"},
                 {999, "999"},
                 {1000, "1,000"},
                 {100000, "100,000"},
                 {6172839, "6,172,839"},
                 {std::numeric_limits<std::uint64_t>::max(), "18,446,744,073,709,551,615"}};
    for (const auto& c : cases) EXPECT_EQ(group_digits(c.n), c.text) << c.n;
}

TEST(FormatBytes, each_unit_keeps_one_decimal) {
    const struct {
        double bytes;
        byte_unit unit;
        const char* text;
    } cases[] = {
        {88.0, byte_unit::byte, "88.0 B"},
        {412.34, byte_unit::byte, "412.3 B"},
        {512 * mib, byte_unit::mib, "512.0 MiB"},
        {3 * gib, byte_unit::mib, "3072.0 MiB"},
        {1.5 * gib, byte_unit::gib, "1.5 GiB"},
        {0.5 * mib, byte_unit::gib, "0.0 GiB"},
        // MiB below 1 GiB, GiB from there: the memory guard's messages.
        {512 * mib, byte_unit::mib_or_gib, "512.0 MiB"},
        {gib - 1, byte_unit::mib_or_gib, "1024.0 MiB"},
        {gib, byte_unit::mib_or_gib, "1.0 GiB"},
        {1.5 * gib, byte_unit::mib_or_gib, "1.5 GiB"},
    };
    for (const auto& c : cases) EXPECT_EQ(format_bytes(c.bytes, c.unit), c.text) << c.bytes;
}

TEST(FormatBytes, a_whole_count_of_bytes_prints_as_that_many_bytes_in_a_double) {
    EXPECT_EQ(format_bytes(std::uint64_t{1536}, byte_unit::byte), "1536.0 B");
    EXPECT_EQ(format_bytes(std::uint64_t{3} << 29U, byte_unit::mib_or_gib), "1.5 GiB");
}

}  // namespace
}  // namespace corostorm::text
