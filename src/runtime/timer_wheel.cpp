#include "runtime/timer_wheel.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace corostorm::runtime {

namespace {

constexpr unsigned shift(unsigned level) noexcept { return timer_wheel::slot_bits * level; }

// How many slots of `level` lie between the slot of `elapsed` and the slot of `when`.
constexpr std::uint64_t slots_ahead(std::uint64_t elapsed, std::uint64_t when, unsigned level) noexcept {
    return (when >> shift(level)) - (elapsed >> shift(level));
}

}  // namespace

timer_wheel::timer_wheel(std::uint64_t now_ns, std::uint64_t tick_ns)
    : tick_ns_(tick_ns), elapsed_(now_ns / tick_ns) {
    assert(tick_ns > 0);
}

void timer_wheel::insert(timer_node* node) noexcept {
    ++size_;
    link(node);
}

void timer_wheel::link(timer_node* node) noexcept {
    const std::uint64_t when = tick_of(node->deadline_ns);
    if (when <= elapsed_) {
        node->next = due_;
        due_ = node;
        return;
    }
    // The lowest level whose window (the next 63 slots) reaches the deadline.
    // Placing by distance rather than by the highest differing bit keeps a
    // timer of a given period on one level: a 1 s timer always waits on
    // level 1 and moves down once, instead of sometimes landing on level 2
    // and being moved, with every other timer of that 4 s slot, in one burst.
    unsigned level = 0;
    while (level + 1 < levels && slots_ahead(elapsed_, when, level) >= slots) ++level;
    // Beyond the span: park in the farthest slot; when that slot comes up the
    // timer is filed again, never firing early.
    const std::uint64_t ahead = std::min<std::uint64_t>(slots_ahead(elapsed_, when, level), slots - 1);
    const auto slot = static_cast<unsigned>(((elapsed_ >> shift(level)) + ahead) & (slots - 1));
    timer_node*& head = slot_[level][slot][next_chain_++ % chains];
    node->next = head;
    head = node;
    occupied_[level] |= std::uint64_t{1} << slot;
}

std::optional<timer_wheel::expiration> timer_wheel::next_expiration() const noexcept {
    // Each level holds timers in its next 63 slots (and in its current slot
    // once time has reached it). Levels overlap in time, so take the earliest
    // slot start over all of them; on a tie the upper level goes first so that
    // its timers join the same batch.
    std::optional<expiration> best;
    for (unsigned level = levels; level-- > 0;) {
        const std::uint64_t occupied = occupied_[level];
        if (occupied == 0) continue;
        const std::uint64_t position = elapsed_ >> shift(level);
        const auto here = static_cast<int>(position & (slots - 1));
        const auto ahead = static_cast<unsigned>(std::countr_zero(std::rotr(occupied, here)));
        const std::uint64_t tick = (position + ahead) << shift(level);
        if (!best || tick < best->tick) {
            best = expiration{level, static_cast<unsigned>((position + ahead) & (slots - 1)), tick};
        }
    }
    return best;
}

void timer_wheel::expire(const expiration& e) noexcept {
    std::array<timer_node*, chains> lists = slot_[e.level][e.slot];
    slot_[e.level][e.slot] = {};
    occupied_[e.level] &= ~(std::uint64_t{1} << e.slot);
    if (e.tick > elapsed_) elapsed_ = e.tick;
    // One node from each chain per round: the loads of the chains' next
    // pointers are independent, so the CPU keeps several misses in flight.
    for (bool more = true; more;) {
        more = false;
        for (auto& list : lists) {
            if (timer_node* n = list) {
                list = n->next;
                link(n);
                more = true;
            }
        }
    }
}

std::optional<std::uint64_t> timer_wheel::next_due_ns() const noexcept {
    if (due_ != nullptr) return elapsed_ * tick_ns_;
    const auto e = next_expiration();
    if (!e) return std::nullopt;
    return e->tick * tick_ns_;
}

}  // namespace corostorm::runtime
