#include "guard/memory_guard.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "metrics/probes.h"
#include "text/format.h"

namespace corostorm::guard {

std::string_view to_string(limit_source s) noexcept {
    switch (s) {
        case limit_source::none:
            return "none";
        case limit_source::cgroup:
            return "cgroup";
        case limit_source::machine:
            return "machine";
        case limit_source::config:
            return "config";
    }
    return "none";
}

memory_limit resolve_memory_limit(const config::memory_config& cfg, std::optional<std::uint64_t> cgroup_limit,
                                  std::uint64_t machine_bytes, std::optional<std::uint64_t> address_space) {
    memory_limit out;
    const auto headroom_of = [&](std::uint64_t limit) {
        const auto fraction_of_limit = std::llround(static_cast<double>(limit) * cfg.headroom_fraction);
        return std::min(cfg.headroom_bytes.value_or(static_cast<std::uint64_t>(fraction_of_limit)), limit);
    };
    // Kept whatever memory.limit says: past it any allocation fails, anywhere in the
    // process (an Asio handler's, a log line's), not only a spawn that could be refused.
    if (address_space) {
        out.address_space_bytes = *address_space;
        out.address_space_headroom_bytes = headroom_of(*address_space);
    }
    switch (cfg.limit) {
        case config::memory_limit_kind::none:
            return out;
        case config::memory_limit_kind::bytes:
            out.source = limit_source::config;
            out.limit_bytes = cfg.limit_bytes;
            break;
        case config::memory_limit_kind::automatic:
            if (cgroup_limit) {
                out.source = limit_source::cgroup;
                out.limit_bytes = *cgroup_limit;
            } else if (machine_bytes > 0) {
                out.source = limit_source::machine;
                out.limit_bytes = machine_bytes;
            } else {
                return out;
            }
            break;
    }
    out.headroom_bytes = headroom_of(out.limit_bytes);
    return out;
}

memory_limit resolve_memory_limit(const config::memory_config& cfg) {
    return resolve_memory_limit(cfg, metrics::cgroup_memory_limit(), metrics::total_memory_bytes(),
                                metrics::address_space_limit());
}

std::optional<std::string> no_room_problem(const memory_limit& limit, const config::memory_config& cfg) {
    const std::string headroom = cfg.headroom_bytes ? config::format_size(*cfg.headroom_bytes)
                                                    : fmt::format("{:g}%", cfg.headroom_fraction * 100.0);
    if (limit.bounds_memory() && limit.threshold_bytes() == 0) {
        const char* what = limit.source == limit_source::cgroup    ? "the cgroup's memory limit"
                           : limit.source == limit_source::machine ? "the machine's memory (MemTotal)"
                                                                   : "memory.limit";
        return fmt::format(
            "memory.headroom: {} leaves no room below {}: here that is {}, {}; give a smaller "
            "headroom (a size below it, or a percentage up to 90%) or another memory.limit",
            headroom,
            cfg.limit == config::memory_limit_kind::automatic ? "memory.limit auto" : "memory.limit", what,
            text::format_bytes(limit.limit_bytes, text::byte_unit::mib_or_gib));
    }
    if (limit.address_space_bytes > 0 && limit.address_space_threshold_bytes() == 0) {
        return fmt::format(
            "memory.headroom: {} leaves no room below the address-space limit (ulimit -v) of {}; give a "
            "smaller headroom, or raise ulimit -v",
            headroom, text::format_bytes(limit.address_space_bytes, text::byte_unit::mib_or_gib));
    }
    return std::nullopt;
}

usage_probe usage_probe_for(limit_source source) {
    switch (source) {
        case limit_source::cgroup:
            return [] { return metrics::cgroup_memory_working_set(); };
        case limit_source::machine:
            return [] { return metrics::machine_memory_in_use(); };
        case limit_source::config:
        case limit_source::none:
            break;
    }
    return []() -> std::optional<std::uint64_t> { return metrics::resident_bytes(); };
}

std::unique_ptr<memory_guard> memory_guard::for_process(const memory_limit& limit, std::uint64_t rss_baseline,
                                                        runtime::pool& pool) {
    if (!limit.active()) return nullptr;
    return std::make_unique<memory_guard>(
        limit, usage_probe_for(limit.source), [] { return metrics::resident_bytes(); }, rss_baseline, pool,
        []() -> std::optional<std::uint64_t> { return metrics::virtual_bytes(); });
}

memory_guard::memory_guard(memory_limit limit, usage_probe usage, std::function<std::uint64_t()> resident,
                           std::uint64_t rss_baseline, runtime::pool& pool, usage_probe address_space)
    : limit_(limit),
      usage_(std::move(usage)),
      address_space_(std::move(address_space)),
      resident_(std::move(resident)),
      rss_baseline_(rss_baseline),
      pool_(pool),
      high_water_(pool.size(), 0) {}

void memory_guard::refresh(std::uint64_t now_ns) {
    const unsigned workers = pool_.size();
    std::vector<std::uint64_t> live(workers, 0);
    std::uint64_t live_total = 0;
    std::uint64_t denied = 0;
    for (unsigned i = 0; i < workers; ++i) {
        const auto& shard = pool_.at(i).shard();
        for (std::size_t w = 0; w < shard.workload_count; ++w) live[i] += shard.workload(w).live();
        live_total += live[i];
        denied += shard.spawn_denied_memory.read();
    }

    const auto usage = usage_();
    if (!usage) {
        // Keep the ceilings as they are: no new room without a measurement.
        if (!probe_failed_) {
            spdlog::warn("memory guard: cannot read the memory in use ({}); spawning keeps its last limits",
                         to_string(limit_.source));
            probe_failed_ = true;
        }
        return;
    }
    probe_failed_ = false;

    std::uint64_t per_task = default_task_bytes;
    if (live_total >= measure_after_tasks) {
        const std::uint64_t resident = resident_();
        if (resident > rss_baseline_)
            per_task = std::max<std::uint64_t>((resident - rss_baseline_) / live_total, 1);
    }
    const std::uint64_t threshold = limit_.threshold_bytes();
    std::uint64_t room_tasks = !limit_.bounds_memory() ? std::numeric_limits<std::uint64_t>::max()
                               : *usage < threshold    ? (threshold - *usage) / per_task
                                                       : 0;
    bool address_space_binds = false;
    if (limit_.address_space_bytes > 0 && address_space_) {
        // Unreadable: no bound from it (the mapped size is always readable on Linux).
        if (const auto mapped = address_space_()) {
            const std::uint64_t as_threshold = limit_.address_space_threshold_bytes();
            const std::uint64_t as_room = *mapped < as_threshold ? (as_threshold - *mapped) / per_task : 0;
            address_space_binds = as_room < room_tasks;
            room_tasks = std::min(room_tasks, as_room);
        }
    }
    const std::uint64_t share = room_tasks / std::max(workers, 1U);
    for (unsigned i = 0; i < workers; ++i) {
        high_water_[i] = std::max(high_water_[i], live[i]);
        pool_.at(i).set_task_ceiling(std::max(live[i] + share, high_water_[i]));
    }

    usage_bytes_.store(*usage, std::memory_order_relaxed);
    bytes_per_task_.store(per_task, std::memory_order_relaxed);
    address_space_binds_.store(address_space_binds, std::memory_order_relaxed);

    if (denied != denied_seen_) {
        denied_seen_ = denied;
        last_denial_ns_ = now_ns;
        if (!capped_.load(std::memory_order_relaxed)) {
            capped_.store(true, std::memory_order_relaxed);
            episodes_.fetch_add(1, std::memory_order_relaxed);
            spdlog::warn("memory guard: spawning held back at {} live task(s): {}", live_total,
                         describe_bound(state()));
        }
    } else if (capped_.load(std::memory_order_relaxed) && now_ns >= last_denial_ns_ + episode_quiet_ns) {
        capped_.store(false, std::memory_order_relaxed);
        spdlog::info("memory guard: no spawn held back for {} s; {} live task(s), {} in use",
                     episode_quiet_ns / 1'000'000'000, live_total,
                     text::format_bytes(*usage, text::byte_unit::mib_or_gib));
    }
}

std::string memory_guard::describe_bound(const guard_state& state) const {
    if (state.address_space_binds) {
        return fmt::format(
            "the address space (ulimit -v) of {} less {} headroom",
            text::format_bytes(limit_.address_space_bytes, text::byte_unit::mib_or_gib),
            text::format_bytes(limit_.address_space_headroom_bytes, text::byte_unit::mib_or_gib));
    }
    return fmt::format("{} in use ({}) of a {} limit less {} headroom",
                       text::format_bytes(state.usage_bytes, text::byte_unit::mib_or_gib),
                       to_string(limit_.source),
                       text::format_bytes(limit_.limit_bytes, text::byte_unit::mib_or_gib),
                       text::format_bytes(limit_.headroom_bytes, text::byte_unit::mib_or_gib));
}

guard_state memory_guard::state() const noexcept {
    return {.usage_bytes = usage_bytes_.load(std::memory_order_relaxed),
            .bytes_per_task = bytes_per_task_.load(std::memory_order_relaxed),
            .capped = capped_.load(std::memory_order_relaxed),
            .address_space_binds = address_space_binds_.load(std::memory_order_relaxed),
            .episodes = episodes_.load(std::memory_order_relaxed)};
}

}  // namespace corostorm::guard
