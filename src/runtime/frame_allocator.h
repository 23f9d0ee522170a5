// Per-worker allocator for coroutine frames: size-class free lists over
// large slabs, with exact byte accounting.
//
// Why: a frame is the only allocation a lean task makes, so the allocator *is*
// the per-task overhead. glibc malloc adds a 16-byte header to every block and
// keeps freed blocks in shared bins; this allocator adds no header (blocks are
// rounded to 16 bytes) and gives a freed frame straight to the next spawn of
// the same size on the same worker.
// Cost: allocate/deallocate are a few instructions: pop/push of an intrusive
// free list, or a bump of the current slab; a new slab (256 KiB, from malloc
// so that heap statistics see it) is taken once every few thousand frames.
// Thread-safety: none. One worker owns it; frames are allocated and freed on
// that worker's thread only (per_thread layout keeps a task on its worker).
// Accounting: `live_bytes()` is the sum of the sizes the compiler asked for
// (exact frame bytes); `reserved_bytes()` is the slab memory held.
// Lifetime: destroying the allocator frees every slab, with any frame still
// in it (a forced shutdown may leave frames nobody can reach to destroy).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "metrics/recorder.h"

namespace corostorm::runtime {

class frame_allocator {
public:
    static constexpr std::size_t granule = 16;
    static constexpr std::size_t max_small = 1024;  // larger frames go to malloc
    static constexpr std::size_t slab_bytes = 256 * 1024;

    frame_allocator() = default;
    ~frame_allocator();
    frame_allocator(const frame_allocator&) = delete;
    frame_allocator& operator=(const frame_allocator&) = delete;

    void* allocate(std::size_t n);
    void deallocate(void* p, std::size_t n) noexcept;

    std::uint64_t live_bytes() const noexcept { return live_bytes_.read(); }
    std::uint64_t reserved_bytes() const noexcept { return reserved_bytes_.read(); }
    std::uint64_t live_blocks() const noexcept { return live_blocks_; }

private:
    struct free_block {
        free_block* next;
    };
    struct slab_header {
        slab_header* next;
    };
    static constexpr std::size_t class_count = max_small / granule;
    static constexpr std::size_t class_of(std::size_t n) noexcept { return (n + granule - 1) / granule - 1; }

    void* carve(std::size_t rounded);

    std::array<free_block*, class_count> free_{};
    std::byte* bump_ = nullptr;
    std::byte* bump_end_ = nullptr;
    slab_header* slabs_ = nullptr;
    std::uint64_t live_blocks_ = 0;
    metrics::owned_value live_bytes_;      // read by the exporter
    metrics::owned_value reserved_bytes_;  // read by the exporter
};

}  // namespace corostorm::runtime
