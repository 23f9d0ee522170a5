#include "runtime/timer_wheel.h"

#include <bit>
#include <cassert>

namespace corostorm::runtime {

namespace {

constexpr std::uint64_t slot_width(unsigned level) noexcept {
    return std::uint64_t{1} << (timer_wheel::slot_bits * level);
}

constexpr std::uint64_t level_width(unsigned level) noexcept {
    return slot_width(level + 1);
}

// The lowest level on which `when` lies in a different slot than `elapsed`:
// the highest bit in which the two differ, in units of slot_bits.
unsigned level_for(std::uint64_t elapsed, std::uint64_t when) noexcept {
    std::uint64_t masked = (elapsed ^ when) | (timer_wheel::slots - 1);
    if (masked >= timer_wheel::max_ticks) masked = timer_wheel::max_ticks - 1;
    const auto significant = static_cast<unsigned>(63 - std::countl_zero(masked));
    return significant / timer_wheel::slot_bits;
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
    std::uint64_t when = tick_of(node->deadline_ns);
    if (when <= elapsed_) {
        node->next = due_;
        due_ = node;
        return;
    }
    // Beyond the wheel's span: park in the farthest slot; it moves down (and
    // is re-filed) when that slot comes up, never firing early.
    if (when - elapsed_ >= max_ticks) when = elapsed_ + max_ticks - 1;
    const unsigned level = level_for(elapsed_, when);
    const auto slot = static_cast<unsigned>((when >> (slot_bits * level)) & (slots - 1));
    node->next = slot_[level][slot];
    slot_[level][slot] = node;
    occupied_[level] |= std::uint64_t{1} << slot;
}

std::optional<timer_wheel::expiration> timer_wheel::next_expiration() const noexcept {
    // Every timer on a lower level is due before any slot of a higher level
    // begins (level_for guarantees it), so the first level with a timer wins.
    for (unsigned level = 0; level < levels; ++level) {
        const std::uint64_t occupied = occupied_[level];
        if (occupied == 0) continue;
        const std::uint64_t width = slot_width(level);
        const auto here = static_cast<unsigned>((elapsed_ / width) & (slots - 1));
        const auto ahead = static_cast<unsigned>(std::countr_zero(std::rotr(occupied, static_cast<int>(here))));
        const unsigned slot = (here + ahead) & (slots - 1);
        const std::uint64_t level_start = elapsed_ & ~(level_width(level) - 1);
        std::uint64_t tick = level_start + slot * width;
        // A slot behind the current one, or the current slot of an upper level
        // (which only timers parked a full revolution ahead can occupy),
        // belongs to the next revolution of this level.
        if (tick < elapsed_ || (level > 0 && slot == here)) tick += level_width(level);
        return expiration{level, slot, tick};
    }
    return std::nullopt;
}

void timer_wheel::expire(const expiration& e) noexcept {
    timer_node* list = slot_[e.level][e.slot];
    slot_[e.level][e.slot] = nullptr;
    occupied_[e.level] &= ~(std::uint64_t{1} << e.slot);
    if (e.tick > elapsed_) elapsed_ = e.tick;
    while (list != nullptr) {
        timer_node* n = list;
        list = n->next;
        link(n);
    }
}

std::optional<std::uint64_t> timer_wheel::next_due_ns() const noexcept {
    if (due_ != nullptr) return elapsed_ * tick_ns_;
    const auto e = next_expiration();
    if (!e) return std::nullopt;
    return e->tick * tick_ns_;
}

}  // namespace corostorm::runtime
