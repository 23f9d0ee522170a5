// Hierarchical timing wheel of intrusive timer nodes: O(1) insert, O(1)
// amortised expiry, no allocation ever, and a bounded amount of work per poll.
//
// Why: the lean engine holds millions of sleeping tasks per worker. A heap
// costs O(log n) cache misses per operation on frames spread over gigabytes;
// a steady_timer per task costs a heap block, and one asio worker falls
// behind 1M such timers at a 1 s period (docs/benchmarks.md, "Engines and
// asio styles"). The wheel touches only the node it inserts or fires plus
// one slot head, whatever the number of timers.
// Shape: levels 0 and 1 have 1024 slots each, the five levels above 64
// each. A level-0 slot is one tick; a slot of any level above is half the
// window of the level below it (512 ticks on level 1, 2^18 on level 2, then
// x32 a level), so the wheel spans 2^44 ticks (557 years at 1 ms). A timer
// waits on the lowest level whose window (its next slots) reaches the
// deadline, and moves down a level before its slot comes up. Why this
// shape: periods up to a second, the common case, go straight into the
// slot that fires them and never move, so such a timer costs one link and
// the firing walk; and because each level's window is twice the slot width
// of the level above, an upper slot can be moved down *ahead* of its time,
// spread over the preceding slot width, instead of all at once.
// Moving down (the cascade): an upper slot opens one lower-level slot after
// its start minus its width, and from then on each poll moves a share of it:
// what remains divided by the ticks left before its start, at least
// move_floor (so sparse slots move in one go) and at most move_ceiling (the
// bound on a poll's work). With 100M sleepers at a 100 s period a level-1
// slot holds 512k timers; moved at its start in one go that is ~50 ms of
// cache misses in one worker turn, spread it is ~1k timers a tick. A poll
// that falls behind (its slot's start has come and timers remain) stops
// there, fires nothing later than them, and says so (behind()): the caller
// polls again after other work, so no single poll does unbounded work.
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
// Memory: (2 x 1024 + 5 x 64) slots x (8 list heads x 8 B + a 4 B count)
// = 157 KiB of address space per wheel, whatever the timer count, resident
// only where slots have been used.
// Lifetime: nodes are owned by the caller (they live inside coroutine
// frames) and must stay valid while linked; drain() unlinks them all.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>

namespace corostorm::runtime {

struct timer_node {
    timer_node* next = nullptr;
    std::uint64_t deadline_ns = 0;  // steady-clock nanoseconds
};

namespace wheel_shape {
inline constexpr unsigned levels = 7;
inline constexpr unsigned wide_levels = 2;  // levels 0 and 1
inline constexpr unsigned wide_bits = 10;   // 1024 slots on each wide level
inline constexpr unsigned upper_bits = 6;   // 64 slots on every level above
constexpr unsigned bits(unsigned level) noexcept { return level < wide_levels ? wide_bits : upper_bits; }
// Slots of a level are ticks shifted by this: each level's slot is half the
// window of the level below (see above).
constexpr unsigned shift(unsigned level) noexcept {
    return level == 0 ? 0 : shift(level - 1) + bits(level - 1) - 1;
}
}  // namespace wheel_shape

class timer_wheel {
public:
    static constexpr unsigned levels = wheel_shape::levels;
    static constexpr unsigned wide_levels = wheel_shape::wide_levels;
    static constexpr unsigned wide_bits = wheel_shape::wide_bits;
    static constexpr unsigned upper_bits = wheel_shape::upper_bits;
    static constexpr unsigned bits(unsigned level) noexcept { return wheel_shape::bits(level); }
    static constexpr unsigned shift(unsigned level) noexcept { return wheel_shape::shift(level); }
    static constexpr unsigned span_bits = wheel_shape::shift(levels - 1) + wheel_shape::bits(levels - 1);
    static constexpr std::uint64_t max_ticks = std::uint64_t{1} << span_bits;
    static constexpr unsigned total_slots =
        wide_levels * (1u << wide_bits) + (levels - wide_levels) * (1u << upper_bits);
    // Each slot is several independent lists. Walking them side by side keeps
    // several cache misses on nodes (which live in frames spread over the
    // heap) in flight instead of queueing them behind one pointer chain.
    static constexpr unsigned chains = 8;
    // Timers one poll moves down from a slot: at least the floor (a sparse
    // slot moves in one go); at most the ceiling over all of a poll's moves
    // (the bound on its work: ~0.5 ms of cache misses on frames here).
    static constexpr std::size_t move_floor = 256;
    static constexpr std::size_t move_ceiling = 8192;

    // `now_ns`: the current steady-clock time; `tick_ns`: the resolution.
    timer_wheel(std::uint64_t now_ns, std::uint64_t tick_ns);

    void insert(timer_node* node) noexcept;

    // Fires (calls fire(node*) for) timers whose tick is <= the tick of `now_ns`,
    // at most `budget` of them, and moves timers of upcoming upper slots down
    // a level, at most move_ceiling of them. A fired node is unlinked before
    // fire() runs, so fire() may insert it again. Returns the number fired;
    // fewer than `budget` with behind() false means nothing else is due.
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
    // Moves down a level so far (part of links()).
    std::uint64_t moves() const noexcept { return moves_; }
    // The last poll stopped at its move bound with timers due that it has
    // not reached: poll again (after other work) before sleeping.
    bool behind() const noexcept { return behind_; }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::uint64_t tick_ns() const noexcept { return tick_ns_; }

private:
    struct expiration {
        unsigned level;
        unsigned slot;
        std::uint64_t tick;   // when to act: the start on level 0, the next move above
        std::uint64_t start;  // start tick of the slot
    };
    using chain_heads = std::array<timer_node*, chains>;

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
    // Acts on the slot of `e` at its tick, moving time there. A level-0
    // slot becomes the due chains as it is; an upper slot has a share of its
    // nodes filed again on lower levels. Returns false when that share was
    // bounded, timers of the slot remain and the slot's start has come.
    bool expire(const expiration& e, std::uint64_t now) noexcept;
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
    // The slots and their counts, 157 KiB, from calloc: fresh zero pages
    // that only become resident as slots are used, so an idle worker does
    // not hold them (1024 idle workers: 157 MiB less).
    struct slot_table {
        std::array<chain_heads, total_slots> heads;
        std::array<std::uint32_t, total_slots> count;  // nodes per slot: the move share
    };
    struct free_table {
        void operator()(slot_table* t) const noexcept { std::free(t); }
    };
    std::unique_ptr<slot_table, free_table> table_;
    chain_heads& heads(unsigned flat_slot) noexcept { return table_->heads[flat_slot]; }
    std::uint32_t& count(unsigned flat_slot) noexcept { return table_->count[flat_slot]; }
    // Per level: the tick before which that level moves nothing more (one
    // share per poll).
    std::array<std::uint64_t, levels> move_after_{};
    unsigned next_chain_ = 0;
    std::size_t size_ = 0;
    std::uint64_t links_ = 0;
    std::uint64_t moves_ = 0;
    std::size_t move_allowance_ = 0;  // moves left to the current poll
    bool behind_ = false;
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
    behind_ = false;
    move_allowance_ = move_ceiling;
    for (;;) {
        fired += fire_due(budget - fired, fire);
        if (fired == budget) return fired;
        const auto e = next_expiration();
        if (!e || e->tick > now) break;
        if (!expire(*e, now)) {
            behind_ = true;
            return fired;
        }
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
