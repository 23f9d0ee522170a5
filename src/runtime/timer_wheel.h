// Hierarchical timing wheel of intrusive timer nodes: O(1) insert, O(1)
// amortised expiry, no allocation ever.
//
// Why: the lean engine holds millions of sleeping tasks per worker. A heap
// costs O(log n) cache misses per operation on frames spread over gigabytes;
// a steady_timer per task costs a heap block, and one asio worker falls
// behind 1M such timers at a 1 s period (docs/benchmarks.md, "Engines side by
// side"). The wheel touches only the node it inserts or fires plus
// one slot head, whatever the number of timers.
// Shape: levels 0 and 1 have 1024 slots each (one tick wide on level 0,
// 1024 ticks on level 1: a window of about a second and of 18 minutes at
// 1 ms), the four levels above 64 slots each, so the wheel spans 2^44 ticks
// (557 years at 1 ms). A timer waits on the lowest level whose window (its
// next slots) reaches the deadline, and moves down a level when its slot
// comes up. Why this shape: periods up to a second, the common case, go
// straight into the slot that fires them and never move, so such a timer
// costs one link and the firing walk; and when a level-1 slot comes up it
// moves only the timers of the next 1.024 s (1% of 100M sleepers with a 100 s
// period), not a 64th of the level's whole window in one burst.
// Firing: a level-0 slot whose tick has come is handed over whole (its
// chains become the due chains) without touching its nodes; firing walks
// the chains round-robin and prefetches each chain's next node, so the cache
// misses on frames of a million timers overlap.
// Resolution: deadlines are rounded *up* to the next tick, so a timer never
// fires early; it fires within one tick plus scheduling delay after its
// deadline. Timers due in the same tick fire in the same batch, in no
// particular order among themselves; batches fire in tick order.
// Thread-safety: none; one worker owns a wheel.
// Cancelling: drain() hands out every pending timer straight from its slot,
// moving none down (shutdown wants them all, and soon, not in order).
// Memory: (2 x 1024 + 4 x 64) x 8 list heads x 8 B = 144 KiB per wheel,
// whatever the timer count.
// Lifetime: nodes are owned by the caller (they live inside coroutine
// frames) and must stay valid while linked; drain() unlinks them all.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace corostorm::runtime {

struct timer_node {
    timer_node* next = nullptr;
    std::uint64_t deadline_ns = 0;  // steady-clock nanoseconds
};

class timer_wheel {
public:
    static constexpr unsigned levels = 6;
    static constexpr unsigned wide_levels = 2;  // levels 0 and 1
    static constexpr unsigned wide_bits = 10;   // 1024 slots on each wide level
    static constexpr unsigned upper_bits = 6;   // 64 slots on every level above
    static constexpr unsigned span_bits = wide_levels * wide_bits + upper_bits * (levels - wide_levels);
    static constexpr std::uint64_t max_ticks = std::uint64_t{1} << span_bits;
    static constexpr unsigned total_slots =
        wide_levels * (1u << wide_bits) + (levels - wide_levels) * (1u << upper_bits);
    // Each slot is several independent lists. Walking them side by side keeps
    // several cache misses on nodes (which live in frames spread over the
    // heap) in flight instead of queueing them behind one pointer chain.
    static constexpr unsigned chains = 8;

    // `now_ns`: the current steady-clock time; `tick_ns`: the resolution.
    timer_wheel(std::uint64_t now_ns, std::uint64_t tick_ns);

    void insert(timer_node* node) noexcept;

    // Fires (calls fire(node*) for) timers whose tick is <= the tick of `now_ns`,
    // at most `budget` of them. A fired node is unlinked before fire() runs, so
    // fire() may insert it again. Returns the number fired; fewer than
    // `budget` means nothing else is due.
    template <class Fire>
    std::size_t poll(std::uint64_t now_ns, std::size_t budget, Fire&& fire);

    // Unlinks and hands every timer to fire(), due or not, earliest batches first.
    template <class Fire>
    std::size_t drain(std::size_t budget, Fire&& fire);

    // Steady-clock time at which the earliest pending batch becomes due (a
    // batch on an upper level becomes "due" when it must move down); nullopt
    // when the wheel is empty.
    std::optional<std::uint64_t> next_due_ns() const noexcept;

    // List insertions made so far: inserts plus every move down a level.
    // Per fired timer it stays below levels whatever the number of timers:
    // the O(1) bound, counted (benchmarks and tests read it).
    std::uint64_t links() const noexcept { return links_; }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::uint64_t tick_ns() const noexcept { return tick_ns_; }

private:
    struct expiration {
        unsigned level;
        unsigned slot;
        std::uint64_t tick;  // start tick of the slot
    };
    using chain_heads = std::array<timer_node*, chains>;

    static constexpr unsigned bits(unsigned level) noexcept {
        return level < wide_levels ? wide_bits : upper_bits;
    }
    static constexpr unsigned shift(unsigned level) noexcept {
        return level <= wide_levels ? level * wide_bits
                                    : wide_levels * wide_bits + (level - wide_levels) * upper_bits;
    }
    static constexpr unsigned first_slot(unsigned level) noexcept {
        return level <= wide_levels ? level << wide_bits
                                    : (wide_levels << wide_bits) + ((level - wide_levels) << upper_bits);
    }

    std::uint64_t tick_of(std::uint64_t ns) const noexcept { return (ns + tick_ns_ - 1) / tick_ns_; }
    std::optional<expiration> next_expiration() const noexcept;
    // Slots ahead of `position` (cyclically) to the first occupied slot of `level`, or -1.
    int next_occupied(unsigned level, unsigned position) const noexcept;
    void set_occupied(unsigned flat_slot) noexcept {
        occupied_[flat_slot / 64] |= std::uint64_t{1} << (flat_slot % 64);
    }
    void clear_occupied(unsigned flat_slot) noexcept {
        occupied_[flat_slot / 64] &= ~(std::uint64_t{1} << (flat_slot % 64));
    }
    void link(timer_node* node) noexcept;  // into a slot or the due chains; no size change
    // Takes the slot of `e` and moves time to its start. A level-0 slot
    // becomes the due chains as it is; an upper slot's nodes are filed again.
    void expire(const expiration& e) noexcept;
    // The due chains are empty: make the chains of `flat_slot` the due chains.
    void take_as_due(unsigned flat_slot) noexcept;
    template <class Fire>
    std::size_t fire_due(std::size_t budget, Fire& fire);

    std::uint64_t tick_ns_;
    std::uint64_t elapsed_;   // current time in ticks; every linked timer is later
    chain_heads due_{};       // timers whose tick has come, not yet fired
    unsigned due_count_ = 0;  // non-empty due chains are due_[0 .. due_count_)
    unsigned next_due_ = 0;   // the chain the next firing takes from
    // Bit s of the flat slot numbering (level 0 first): slot s is non-empty.
    std::array<std::uint64_t, (total_slots + 63) / 64> occupied_{};
    std::array<chain_heads, total_slots> slot_{};
    unsigned next_chain_ = 0;
    std::size_t size_ = 0;
    std::uint64_t links_ = 0;
};

template <class Fire>
std::size_t timer_wheel::fire_due(std::size_t budget, Fire& fire) {
    std::size_t fired = 0;
    while (due_count_ != 0 && fired < budget) {
        if (next_due_ >= due_count_) next_due_ = 0;
        timer_node*& head = due_[next_due_];
        timer_node* n = head;
        head = n->next;
        if (head != nullptr) {
            // This chain's turn comes again after the other chains' nodes:
            // time enough for the miss on its next node to be served.
            __builtin_prefetch(head, 1);
            ++next_due_;
        } else {
            // Keep the non-empty chains first: the last one takes this place.
            head = due_[--due_count_];
            due_[due_count_] = nullptr;
        }
        n->next = nullptr;
        --size_;
        ++fired;
        fire(n);
    }
    return fired;
}

template <class Fire>
std::size_t timer_wheel::poll(std::uint64_t now_ns, std::size_t budget, Fire&& fire) {
    const std::uint64_t now = now_ns / tick_ns_;
    std::size_t fired = 0;
    for (;;) {
        fired += fire_due(budget - fired, fire);
        if (fired == budget) return fired;
        const auto e = next_expiration();
        if (!e || e->tick > now) break;
        expire(*e);
    }
    if (now > elapsed_) elapsed_ = now;
    return fired;
}

template <class Fire>
std::size_t timer_wheel::drain(std::size_t budget, Fire&& fire) {
    std::size_t fired = 0;
    unsigned word = 0;
    for (;;) {
        fired += fire_due(budget - fired, fire);
        if (fired == budget) return fired;
        while (word < occupied_.size() && occupied_[word] == 0) ++word;
        if (word == occupied_.size()) return fired;
        take_as_due(word * 64 + static_cast<unsigned>(std::countr_zero(occupied_[word])));
    }
}

}  // namespace corostorm::runtime
