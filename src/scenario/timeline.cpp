#include "scenario/timeline.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numeric>

namespace corostorm::scenario {

std::vector<std::uint64_t> split_by_weight(std::uint64_t total, const std::vector<double>& weights) {
    const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
    std::vector<std::uint64_t> parts(weights.size(), 0);
    std::vector<std::pair<double, std::size_t>> remainders;
    std::uint64_t given = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
        const double exact = static_cast<double>(total) * weights[i] / sum;
        parts[i] = std::min(total - given, static_cast<std::uint64_t>(std::floor(exact)));
        given += parts[i];
        remainders.emplace_back(exact - std::floor(exact), i);
    }
    // Largest remainders first; ties go to the earlier workload.
    std::stable_sort(remainders.begin(), remainders.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (std::size_t k = 0; given < total; k = (k + 1) % remainders.size()) {
        ++parts[remainders[k].second];
        ++given;
    }
    return parts;
}

timeline::timeline(std::vector<stage> stages, bool repeat, std::vector<double> weights,
                   std::uint64_t start_ns, std::uint64_t start_total)
    : stages_(std::move(stages)),
      repeat_(repeat),
      weights_(std::move(weights)),
      stage_start_ns_(start_ns),
      previous_total_(start_total) {
    assert(!stages_.empty() && !weights_.empty());
    // A repeating scenario whose stages take no time would cycle forever in
    // one instant; run it once instead.
    const bool has_length =
        std::any_of(stages_.begin(), stages_.end(), [](const stage& s) { return s.over_ns > 0; });
    if (!has_length) repeat_ = false;
    enter(0, start_ns);
}

void timeline::enter(std::size_t index, std::uint64_t start_ns) {
    index_ = index;
    stage_start_ns_ = start_ns;
    const stage& s = stages_[index];
    const std::uint64_t to_total = s.tasks.value_or(previous_total_);
    const auto from = split_by_weight(previous_total_, weights_);
    const auto to = split_by_weight(to_total, weights_);
    ramps_.assign(weights_.size(), runtime::target_ramp{});
    for (std::size_t w = 0; w < weights_.size(); ++w) {
        ramps_[w] = runtime::target_ramp{from[w], to[w], start_ns, s.over_ns};
    }
    previous_total_ = to_total;
}

std::optional<std::uint64_t> timeline::stage_end_ns() const noexcept {
    if (finished_) return std::nullopt;
    return stage_start_ns_ + stages_[index_].over_ns;
}

bool timeline::advance(std::uint64_t now_ns) {
    bool changed = !started_;
    started_ = true;
    while (!finished_ && now_ns >= stage_start_ns_ + stages_[index_].over_ns) {
        const std::uint64_t end = stage_start_ns_ + stages_[index_].over_ns;
        if (index_ + 1 < stages_.size()) {
            enter(index_ + 1, end);
        } else if (repeat_) {
            ++cycle_;
            enter(0, end);
        } else {
            finished_ = true;
        }
        changed = true;
    }
    return changed;
}

std::uint64_t timeline::total_target_at(std::uint64_t now_ns) const noexcept {
    std::uint64_t total = 0;
    for (const auto& r : ramps_) total += r.at(now_ns);
    return total;
}

}  // namespace corostorm::scenario
