#include "runtime/timer_wheel.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <new>
#include <type_traits>

namespace corostorm::runtime {

timer_wheel::timer_wheel(std::uint64_t now_ns, std::uint64_t tick_ns)
    : tick_ns_(tick_ns),
      elapsed_(now_ns / tick_ns),
      table_(static_cast<slot_table*>(std::calloc(1, sizeof(slot_table)))) {
    static_assert(std::is_trivially_default_constructible_v<slot_table>);  // all-zero bytes are empty slots
    if (!table_) throw std::bad_alloc();
    assert(tick_ns > 0);
}

void timer_wheel::insert(timer_node* node) noexcept {
    ++size_;
    link(node);
}

void timer_wheel::link(timer_node* node) noexcept {
    ++links_;
    const std::uint64_t when = tick_of(node->deadline_ns);
    if (when <= elapsed_) {
        if (due_count_ < chains) {
            node->next = nullptr;
            due_[due_count_++] = node;
        } else {
            timer_node*& head = due_[next_chain_++ % chains];
            node->next = head;
            head = node;
        }
        return;
    }
    // The lowest level whose window (its next slots) reaches the deadline.
    // Placing by distance rather than by the highest differing bit keeps a
    // timer of a given period on one level: a 10 s timer always waits on
    // level 1 and moves down once, instead of sometimes landing on level 2
    // and being moved, with every other timer of that slot, in one burst.
    unsigned level = 0;
    std::uint64_t ahead = when - elapsed_;
    while (level + 1 < levels && ahead >= (std::uint64_t{1} << bits(level))) {
        ++level;
        ahead = (when >> shift(level)) - (elapsed_ >> shift(level));
    }
    // Beyond the span: park in the farthest slot; when that slot comes up the
    // timer is filed again, never firing early.
    const std::uint64_t mask = (std::uint64_t{1} << bits(level)) - 1;
    ahead = std::min(ahead, mask);
    const auto slot = first_slot(level) + static_cast<unsigned>(((elapsed_ >> shift(level)) + ahead) & mask);
    timer_node*& head = heads(slot)[next_chain_++ % chains];
    node->next = head;
    head = node;
    ++count(slot);
    set_occupied(slot);
}

int timer_wheel::next_occupied(unsigned level, unsigned position) const noexcept {
    const unsigned base = first_slot(level) / 64;
    if (bits(level) == 6) {
        const std::uint64_t word = occupied_[base];
        if (word == 0) return -1;
        return std::countr_zero(std::rotr(word, static_cast<int>(position)));
    }
    // A wide level: 16 words; scan from the word holding `position`, wrapping once.
    constexpr unsigned words = (1u << wide_bits) / 64;
    const unsigned first_word = position / 64;
    for (unsigned i = 0; i <= words; ++i) {
        const unsigned w = (first_word + i) % words;
        std::uint64_t word = occupied_[base + w];
        if (i == 0) word &= ~std::uint64_t{0} << (position % 64);         // at or after position
        if (i == words) word &= ~(~std::uint64_t{0} << (position % 64));  // wrapped: before it
        if (word == 0) continue;
        const unsigned slot = w * 64 + static_cast<unsigned>(std::countr_zero(word));
        return static_cast<int>((slot - position) & ((1u << wide_bits) - 1));
    }
    return -1;
}

std::optional<timer_wheel::expiration> timer_wheel::next_expiration() const noexcept {
    // Each level holds timers in its next slots (and in its current slot
    // once time has reached it). Take the earliest time to act over all
    // levels: a level-0 slot acts at its start; an upper slot from its
    // opening (one lower-level slot after its start minus its width: from
    // then on every timer in it fits the window below) and then once per
    // poll until it is empty. On a tie the upper level goes first, so that
    // its timers join the same batch.
    std::optional<expiration> best;
    for (unsigned level = levels; level-- > 0;) {
        const std::uint64_t position = elapsed_ >> shift(level);
        const unsigned mask = (1u << bits(level)) - 1;
        const int ahead = next_occupied(level, static_cast<unsigned>(position & mask));
        if (ahead < 0) continue;
        const std::uint64_t start = (position + static_cast<unsigned>(ahead)) << shift(level);
        std::uint64_t tick = start;
        if (level != 0) {
            const std::uint64_t lead =
                (std::uint64_t{1} << shift(level)) - (std::uint64_t{1} << shift(level - 1));
            const std::uint64_t opens = start > lead ? start - lead : 0;
            tick = std::min(std::max(opens, move_after_[level]), start);
        }
        if (!best || tick < best->tick) {
            best = expiration{level, static_cast<unsigned>((position + static_cast<unsigned>(ahead)) & mask),
                              tick, start};
        }
    }
    return best;
}

bool timer_wheel::expire(const expiration& e, std::uint64_t now) noexcept {
    const unsigned flat = first_slot(e.level) + e.slot;
    if (e.tick > elapsed_) elapsed_ = e.tick;
    if (e.level == 0 && due_count_ == 0) {
        // Every node of a one-tick slot is due now: hand the chains over
        // without touching a node (the firing walk touches each once).
        take_as_due(flat);
        return true;
    }
    // This poll's share: what remains over the ticks left before the start
    // (all of a level-0 slot, whose start has come).
    std::size_t share = count(flat);
    if (e.level != 0) {
        const std::uint64_t ticks_left = e.start > now ? e.start - now : 1;
        share =
            std::clamp<std::size_t>((count(flat) + ticks_left - 1) / ticks_left, move_floor, move_ceiling);
        share = std::min(share, move_allowance_);
        move_allowance_ -= std::min<std::size_t>(share, count(flat));
        move_after_[e.level] = now + 1;
    }
    chain_heads& lists = heads(flat);
    // One node from each chain per round: the loads of the chains' next
    // pointers are independent, so the CPU keeps several misses in flight.
    std::size_t moved = 0;
    for (bool more = true; more && moved < share;) {
        more = false;
        for (auto& list : lists) {
            if (timer_node* n = list) {
                list = n->next;
                --count(flat);
                link(n);
                more = true;
                if (++moved == share) break;
            }
        }
    }
    if (e.level != 0) moves_ += moved;
    if (count(flat) == 0) {
        assert(std::all_of(lists.begin(), lists.end(), [](const timer_node* n) { return n == nullptr; }));
        clear_occupied(flat);
        return true;
    }
    return e.start > now;
}

void timer_wheel::take_as_due(unsigned flat_slot) noexcept {
    assert(due_count_ == 0);
    for (timer_node* list : heads(flat_slot)) {
        if (list != nullptr) due_[due_count_++] = list;
    }
    next_due_ = 0;
    heads(flat_slot) = {};
    count(flat_slot) = 0;
    clear_occupied(flat_slot);
}

std::optional<std::uint64_t> timer_wheel::next_due_ns() const noexcept {
    if (due_count_ != 0) return elapsed_ * tick_ns_;
    const auto e = next_expiration();
    if (!e) return std::nullopt;
    return e->tick * tick_ns_;
}

}  // namespace corostorm::runtime
