#include "text/format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace corostorm::text {
namespace {

constexpr std::uint64_t mib = 1024 * 1024;
constexpr std::uint64_t gib = 1024 * mib;

TEST(GroupDigits, PutsACommaBeforeEveryThreeDigitsFromTheRight) {
    EXPECT_EQ(group_digits(0), "0");
    EXPECT_EQ(group_digits(999), "999");
    EXPECT_EQ(group_digits(1000), "1,000");
    EXPECT_EQ(group_digits(100000), "100,000");
    EXPECT_EQ(group_digits(6172839), "6,172,839");
    EXPECT_EQ(group_digits(std::numeric_limits<std::uint64_t>::max()), "18,446,744,073,709,551,615");
}

TEST(FormatBytes, ByteUnitKeepsOneDecimal) {
    EXPECT_EQ(format_bytes(88.0, byte_unit::byte), "88.0 B");
    EXPECT_EQ(format_bytes(412.34, byte_unit::byte), "412.3 B");
    EXPECT_EQ(format_bytes(std::uint64_t{1536}, byte_unit::byte), "1536.0 B");
}

TEST(FormatBytes, MibAndGibDivideByPowersOf1024) {
    EXPECT_EQ(format_bytes(512 * mib, byte_unit::mib), "512.0 MiB");
    EXPECT_EQ(format_bytes(3 * gib, byte_unit::mib), "3072.0 MiB");
    EXPECT_EQ(format_bytes(3 * gib / 2, byte_unit::gib), "1.5 GiB");
    EXPECT_EQ(format_bytes(mib / 2, byte_unit::gib), "0.0 GiB");
}

TEST(FormatBytes, MibOrGibSwitchesAtOneGib) {
    EXPECT_EQ(format_bytes(512 * mib, byte_unit::mib_or_gib), "512.0 MiB");
    EXPECT_EQ(format_bytes(gib - 1, byte_unit::mib_or_gib), "1024.0 MiB");
    EXPECT_EQ(format_bytes(gib, byte_unit::mib_or_gib), "1.0 GiB");
    EXPECT_EQ(format_bytes(3 * gib / 2, byte_unit::mib_or_gib), "1.5 GiB");
}

}  // namespace
}  // namespace corostorm::text
