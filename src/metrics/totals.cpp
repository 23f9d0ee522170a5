#include "metrics/totals.h"

namespace corostorm::metrics {

runtime_totals sum_shards(const std::vector<const worker_shard*>& shards, std::size_t workloads) {
    runtime_totals t;
    t.workloads.resize(workloads);
    for (const worker_shard* shard : shards) {
        for (std::size_t w = 0; w < workloads; ++w) {
            const workload_shard& s = shard->workload(w);
            auto& out = t.workloads[w];
            // live() reads completed before spawned; summing those two reads
            // here in the same order keeps live >= 0 per shard.
            out.live += s.live();
            out.spawned += s.spawned.read();
            out.resumes += s.resumes.read();
            out.frame_bytes += s.frame_bytes.read();
            for (std::size_t o = 0; o < task_outcome_count; ++o) out.completed[o] += s.completed[o].read();
            for (std::size_t src = 0; src < latency_source_count; ++src) out.latency[src].add(s.latency[src]);
            out.round_trip.add(s.round_trip);
            out.round_trips += s.round_trips.read();
            out.connections += s.connections.read();
        }
        t.spawn_failures += shard->spawn_failures.read();
        t.spawn_denied_memory += shard->spawn_denied_memory.read();
        t.spawn_denied_fds += shard->spawn_denied_fds.read();
        t.busy_seconds.push_back(static_cast<double>(shard->busy_ns.read()) / 1e9);
    }
    for (const auto& w : t.workloads) {
        t.live += w.live;
        t.frame_bytes += w.frame_bytes;
        t.connections += w.connections;
    }
    return t;
}

std::optional<memory_per_task> measure_memory_per_task(const runtime_totals& totals,
                                                       std::uint64_t rss_baseline,
                                                       std::uint64_t heap_baseline,
                                                       std::optional<kernel_memory> kernel_baseline) {
    if (totals.live == 0) return std::nullopt;
    const auto live = static_cast<double>(totals.live);
    const auto growth = [](std::uint64_t now, std::uint64_t base) {
        return now > base ? static_cast<double>(now - base) : 0.0;
    };
    memory_per_task m;
    m.frame_growth = static_cast<double>(totals.frame_bytes);
    m.heap_growth = growth(heap_in_use_bytes(), heap_baseline);
    m.rss_growth = growth(resident_bytes(), rss_baseline);
    m.frame = m.frame_growth / live;
    m.heap = m.heap_growth / live;
    m.rss = m.rss_growth / live;
    if (kernel_baseline) {
        // A figure from another source than the baseline's is not comparable with it.
        if (const auto now = read_kernel_memory(); now && now->source == kernel_baseline->source) {
            m.kernel_growth = growth(now->bytes, kernel_baseline->bytes);
            m.kernel = *m.kernel_growth / live;
        }
    }
    return m;
}

}  // namespace corostorm::metrics
