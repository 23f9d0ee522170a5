#include "runtime/frame_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace corostorm::runtime {
namespace {

TEST(FrameAllocator, counts_exact_requested_bytes) {
    frame_allocator a;
    void* p = a.allocate(104);
    void* q = a.allocate(40);
    void* r = a.allocate(5000);  // beyond the size classes
    EXPECT_EQ(a.live_bytes(), 104u + 40u + 5000u);
    EXPECT_EQ(a.live_blocks(), 3u);
    a.deallocate(q, 40);
    EXPECT_EQ(a.live_bytes(), 104u + 5000u);
    a.deallocate(p, 104);
    a.deallocate(r, 5000);
    EXPECT_EQ(a.live_bytes(), 0u);
    EXPECT_EQ(a.live_blocks(), 0u);
}

// Sizes 16, 40, 64, 88 ... 160: multiples of 16 and odd multiples of 8, interleaved.
std::size_t mixed_size(int i) { return 16 + static_cast<std::size_t>(i % 7) * 24; }

TEST(FrameAllocator, blocks_are_aligned_for_their_size_distinct_and_writable) {
    frame_allocator a;
    std::vector<void*> blocks;
    for (int i = 0; i < 60'000; ++i) {  // spans several slabs
        const std::size_t n = mixed_size(i);
        void* p = a.allocate(n);
        // A multiple of 16 may be a 16-aligned type; anything else needs 8 at most.
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % (n % 16 == 0 ? 16 : 8), 0u) << "size " << n;
        std::memset(p, i & 0xFF, n);
        blocks.push_back(p);
    }
    EXPECT_GE(a.reserved_bytes(), 2 * frame_allocator::slab_bytes);
    // No block overlaps another: each still holds the byte written into it.
    for (int i = 0; i < 60'000; ++i) {
        const auto* p = static_cast<const unsigned char*>(blocks[static_cast<std::size_t>(i)]);
        const std::size_t n = mixed_size(i);
        ASSERT_EQ(p[0], i & 0xFF) << "block " << i;
        ASSERT_EQ(p[n - 1], i & 0xFF) << "block " << i;
    }
    for (int i = 0; i < 60'000; ++i) a.deallocate(blocks[static_cast<std::size_t>(i)], mixed_size(i));
    EXPECT_EQ(a.live_bytes(), 0u);
}

TEST(FrameAllocator, slabs_start_small_and_double_up_to_the_largest) {
    frame_allocator a;
    std::vector<void*> blocks{a.allocate(88)};
    EXPECT_EQ(a.reserved_bytes(), frame_allocator::first_slab_bytes)
        << "a worker with one task holds one small slab";
    // Fill slab after slab: each new one is twice the last (64 bytes short of
    // a power of two), until the largest, which repeats.
    std::vector<std::uint64_t> sizes{a.reserved_bytes()};
    while (sizes.size() < 10) {
        blocks.push_back(a.allocate(88));
        const std::uint64_t reserved = a.reserved_bytes();
        if (reserved != std::accumulate(sizes.begin(), sizes.end(), std::uint64_t{0})) {
            sizes.push_back(reserved - std::accumulate(sizes.begin(), sizes.end(), std::uint64_t{0}));
        }
    }
    for (std::size_t i = 1; i < sizes.size(); ++i) {
        EXPECT_EQ(sizes[i],
                  std::min<std::uint64_t>(2 * (sizes[i - 1] + 64), frame_allocator::slab_bytes + 64) - 64)
            << "slab " << i;
    }
    EXPECT_EQ(sizes.back(), frame_allocator::slab_bytes);
    for (void* p : blocks) a.deallocate(p, 88);
}

TEST(FrameAllocator, a_freed_frame_is_reused_by_the_next_of_its_size) {
    frame_allocator a;
    void* p = a.allocate(100);
    a.deallocate(p, 100);
    const auto reserved = a.reserved_bytes();
    void* q = a.allocate(104);  // same 8-byte class as 100
    EXPECT_EQ(p, q);
    EXPECT_EQ(a.reserved_bytes(), reserved);
    void* r = a.allocate(96);  // another class: a new block
    EXPECT_NE(r, q);
    a.deallocate(q, 104);
    a.deallocate(r, 96);
}

TEST(FrameAllocator, rounding_overhead_is_below_one_granule_per_frame) {
    frame_allocator a;
    constexpr std::size_t frames = 1'000'000;  // enough that the last, part-filled slab weighs little
    constexpr std::size_t size = 88;           // a sleeping task's frame
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < frames; ++i) blocks.push_back(a.allocate(size));
    const double per_frame = static_cast<double>(a.reserved_bytes()) / frames;
    EXPECT_LT(per_frame, static_cast<double>(size + frame_allocator::granule));
    for (void* p : blocks) a.deallocate(p, size);
}

#if defined(__SANITIZE_ADDRESS__)
TEST(FrameAllocator, a_freed_frame_is_poisoned_for_address_sanitizer) {
    frame_allocator a;
    void* p = a.allocate(64);
    EXPECT_FALSE(__asan_address_is_poisoned(static_cast<char*>(p) + 32));
    a.deallocate(p, 64);
    EXPECT_TRUE(__asan_address_is_poisoned(static_cast<char*>(p) + 32));
    void* q = a.allocate(64);
    ASSERT_EQ(p, q);
    EXPECT_FALSE(__asan_address_is_poisoned(static_cast<char*>(q) + 32));
    a.deallocate(q, 64);
}
#endif

}  // namespace
}  // namespace corostorm::runtime
