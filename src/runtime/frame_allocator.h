// Per-worker allocator for coroutine frames: size-class free lists over
// large slabs, with exact byte accounting.
//
// Why: a frame is the only allocation a lean task makes, so the allocator *is*
// the per-task overhead. glibc malloc adds a 16-byte header to every block,
// rounds to 16 and keeps freed blocks in shared bins; this allocator adds no
// header, rounds to 8 bytes only, and gives a freed frame straight to the next
// spawn of the same size on the same worker.
// Alignment: a block whose size is a multiple of 16 starts on a 16-byte
// boundary; any other block on an 8-byte one. That is every alignment a frame
// can need: a type's size is a multiple of its alignment, so a frame of 88
// bytes cannot require 16 (GCC lays out the frame sleeping tasks use in 88
// bytes: rounding it to 96 would cost 9% more memory per task).
// Cost: allocate/deallocate are a few instructions: pop/push of an intrusive
// free list, or a bump of the current slab; a new slab (from malloc so that
// heap statistics see it; 16 KiB first, doubling to 1 MiB) is taken once
// every ten thousand frames once the slabs are grown.
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
    static constexpr std::size_t granule = 8;
    static constexpr std::size_t max_small = 1024;  // larger frames go to malloc
    // What the largest slab asks malloc for: glibc serves a request this
    // large with a mapping of its own, the request plus a 16-byte header
    // rounded up to pages; 64 bytes short of 1 MiB makes that mapping exactly
    // 1 MiB, so no page is touched for a few bytes of it.
    static constexpr std::size_t slab_bytes = 1024 * 1024 - 64;
    // Slabs start small and double up to slab_bytes (each 64 bytes short of
    // a power of two), so that a worker with a few tasks holds a few pages,
    // not a megabyte: with 1024 workers and 100 tasks each the difference is
    // ~640 B per task (docs/benchmarks.md, idle workers).
    static constexpr std::size_t first_slab_bytes = 16 * 1024 - 64;

    frame_allocator() = default;
    ~frame_allocator();
    frame_allocator(const frame_allocator&) = delete;
    frame_allocator& operator=(const frame_allocator&) = delete;

    void* allocate(std::size_t n);
    void deallocate(void* p, std::size_t n) noexcept;
    // The same blocks, not counted in live_bytes() (which counts frames
    // only): for the operation objects of lean tasks' socket waits.
    void* allocate_untracked(std::size_t n);
    void deallocate_untracked(void* p, std::size_t n) noexcept;

    std::uint64_t live_bytes() const noexcept { return live_bytes_.read(); }
    std::uint64_t reserved_bytes() const noexcept { return reserved_bytes_.read(); }
    std::uint64_t live_blocks() const noexcept { return live_blocks_; }
    // Blocks taken through allocate_untracked and not yet given back, and
    // the bytes asked for them (any thread may read: tests and probes).
    std::uint64_t untracked_blocks() const noexcept { return untracked_blocks_.read(); }
    std::uint64_t untracked_bytes() const noexcept { return untracked_bytes_.read(); }

private:
    struct free_block {
        free_block* next;
    };
    struct slab_header {
        slab_header* next;
    };
    static constexpr std::size_t class_count = max_small / granule;
    static constexpr std::size_t class_of(std::size_t n) noexcept { return (n + granule - 1) / granule - 1; }

    void* take(std::size_t n);
    void give(void* p, std::size_t n) noexcept;
    void* carve(std::size_t rounded);

    std::array<free_block*, class_count> free_{};
    std::byte* bump_ = nullptr;
    std::byte* bump_end_ = nullptr;
    std::byte* faulted_end_ = nullptr;  // the slab is faulted in up to here
    static constexpr std::size_t prefault_bytes = 64 * 1024;
    slab_header* slabs_ = nullptr;
    std::size_t next_slab_bytes_ = first_slab_bytes;
    std::uint64_t live_blocks_ = 0;
    metrics::owned_value untracked_blocks_;
    metrics::owned_value untracked_bytes_;
    metrics::owned_value live_bytes_;      // read by the exporter
    metrics::owned_value reserved_bytes_;  // read by the exporter
};

}  // namespace corostorm::runtime
