#include "runtime/frame_allocator.h"

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <new>

#include <sys/mman.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#include <unistd.h>

namespace corostorm::runtime {

namespace {

// Under AddressSanitizer a freed frame is poisoned until it is handed out
// again, so a use-after-free of a frame is caught although the memory never
// goes back to malloc.
#if defined(__SANITIZE_ADDRESS__)
void poison(void* p, std::size_t n) noexcept { __asan_poison_memory_region(p, n); }
void unpoison(void* p, std::size_t n) noexcept { __asan_unpoison_memory_region(p, n); }
#else
void poison(void*, std::size_t) noexcept {}
void unpoison(void*, std::size_t) noexcept {}
#endif

// Faults pages in with one system call instead of one page fault per 4 KiB
// as frames are first written (spawning in a fresh process is page-fault
// bound: a fault costs 5-16 us on the machines of docs/benchmarks.md). Called
// for the stretch just ahead of the bump pointer, which the next frames use;
// where the kernel lacks MADV_POPULATE_WRITE (< 5.14) it quietly does nothing.
void prefault(void* p, std::size_t n) noexcept {
#ifdef MADV_POPULATE_WRITE
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
    const auto end = (reinterpret_cast<std::uintptr_t>(p) + n) & ~(page - 1);
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
    (void)p;
    (void)n;
#endif
}

}  // namespace

frame_allocator::~frame_allocator() {
    while (slabs_ != nullptr) {
        slab_header* next = slabs_->next;
        std::free(slabs_);
        slabs_ = next;
    }
}

void* frame_allocator::allocate(std::size_t n) {
    void* p = take(n);
    live_bytes_.add(n);
    ++live_blocks_;
    return p;
}

void frame_allocator::deallocate(void* p, std::size_t n) noexcept {
    live_bytes_.sub(n);
    --live_blocks_;
    give(p, n);
}

void* frame_allocator::allocate_untracked(std::size_t n) {
    void* p = take(n);
    untracked_blocks_.add(1);
    untracked_bytes_.add(n);
    return p;
}

void frame_allocator::deallocate_untracked(void* p, std::size_t n) noexcept {
    untracked_blocks_.sub(1);
    untracked_bytes_.sub(n);
    give(p, n);
}

void* frame_allocator::take(std::size_t n) {
    assert(n > 0);
    void* p = nullptr;
    if (n > max_small) {
        p = std::malloc(n);
        if (p == nullptr) throw std::bad_alloc();
    } else {
        const std::size_t c = class_of(n);
        if (free_block* b = free_[c]) {
            unpoison(b, (c + 1) * granule);
            free_[c] = b->next;
            p = b;
        } else {
            p = carve((c + 1) * granule);
        }
    }
    return p;
}

void frame_allocator::give(void* p, std::size_t n) noexcept {
    if (n > max_small) {
        std::free(p);
        return;
    }
    const std::size_t c = class_of(n);
    auto* b = static_cast<free_block*>(p);
    b->next = free_[c];
    free_[c] = b;
    poison(b, (c + 1) * granule);
}

void* frame_allocator::carve(std::size_t rounded) {
    // Blocks of a multiple of 16 bytes start on a 16-byte boundary (see the
    // header); the bump pointer is always 8-aligned, so at most 8 bytes go.
    std::size_t pad = rounded % 16 == 0 ? reinterpret_cast<std::uintptr_t>(bump_) % 16 : 0;
    if (static_cast<std::size_t>(bump_end_ - bump_) < pad + rounded) {
        // The tail of the old slab (< max_small bytes) is abandoned: at most
        // 0.1% of a slab, and it keeps the fast path a single comparison.
        const std::size_t bytes = next_slab_bytes_;
        void* raw = std::malloc(bytes);
        if (raw == nullptr) throw std::bad_alloc();
        auto* slab = static_cast<slab_header*>(raw);
        slab->next = slabs_;
        slabs_ = slab;
        reserved_bytes_.add(bytes);
        next_slab_bytes_ = std::min(2 * (bytes + 64), slab_bytes + 64) - 64;
        // Blocks start 16 bytes in, after the slab header (malloc's blocks are 16-aligned).
        bump_ = static_cast<std::byte*>(raw) + 16;
        bump_end_ = static_cast<std::byte*>(raw) + bytes;
        faulted_end_ = bump_;
        pad = 0;
    }
    void* p = bump_ + pad;
    bump_ += pad + rounded;
    if (bump_ > faulted_end_) {
        // Fault the next stretch in ahead of the frames that will use it:
        // one system call per prefault_bytes instead of a page fault per
        // page, and at most that much of a slab resident before it is used.
        const std::size_t n =
            std::min<std::size_t>(prefault_bytes, static_cast<std::size_t>(bump_end_ - faulted_end_));
        prefault(faulted_end_, n);
        faulted_end_ += n;
    }
    return p;
}

}  // namespace corostorm::runtime
