#include "daemon/prove_report.h"

#include <fmt/format.h>

#include <cmath>
#include <utility>

#include "metrics/probes.h"

namespace corostorm::daemon {

namespace {

using nlohmann::json;

// Finite numbers as they are; NaN and infinities (which JSON cannot hold) as null.
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
json number(const std::optional<double>& v) { return v ? number(*v) : json(nullptr); }
json text(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// A rate or other non-negative figure, rounded: 6172839.4 -> "6,172,839".
std::string grouped(double v) {
    return std::isfinite(v) && v >= 0 ? group_digits(static_cast<std::uint64_t>(std::llround(v))) : "-";
}

std::string latency_text(double seconds) {
    if (!std::isfinite(seconds)) return "-";
    if (seconds < 1e-3) return fmt::format("{:.1f} us", seconds * 1e6);
    if (seconds < 1.0) return fmt::format("{:.2f} ms", seconds * 1e3);
    return fmt::format("{:.2f} s", seconds);
}

std::string bytes_text(double b) { return fmt::format("{:.1f} B", b); }

std::string gib_text(std::uint64_t b) {
    return fmt::format("{:.1f} GiB", static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0));
}

std::string or_unknown(const std::string& s) { return s.empty() ? "unknown" : s; }

}  // namespace

std::string group_digits(std::uint64_t n) {
    const std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

machine_facts machine_facts::probe() {
    return machine_facts{
        .cpu_model = metrics::cpu_model(),
        .cpus = metrics::available_cpus(),
        .memory_bytes = metrics::total_memory_bytes(),
        .kernel = metrics::kernel_release(),
        .compiler = metrics::compiler(),
        .boost = COROSTORM_BOOST_VERSION,
        .corostorm = COROSTORM_VERSION,
    };
}

metrics::latency_snapshot difference(const metrics::latency_snapshot& after,
                                     const metrics::latency_snapshot& before) {
    metrics::latency_snapshot out;
    // Each shard only grows; the guard keeps a torn pair of reads from wrapping.
    const auto minus = [](std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; };
    for (std::size_t i = 0; i < out.buckets.size(); ++i)
        out.buckets[i] = minus(after.buckets[i], before.buckets[i]);
    out.sum_ns = minus(after.sum_ns, before.sum_ns);
    return out;
}

std::optional<latency_summary> summarize(std::string source, const metrics::latency_snapshot& s) {
    const std::uint64_t count = s.count();
    if (count == 0) return std::nullopt;
    latency_summary out{
        .source = std::move(source),
        .count = count,
        .p50 = s.quantile(0.5),
        .p90 = s.quantile(0.9),
        .p99 = s.quantile(0.99),
        .p999 = s.quantile(0.999),
    };
    using histogram = metrics::latency_histogram;
    for (std::size_t i = s.buckets.size(); i-- > 0;) {
        if (s.buckets[i] == 0) continue;
        out.max_overflows = i >= histogram::finite_buckets;
        out.max = histogram::upper_bound_seconds(out.max_overflows ? histogram::finite_buckets - 1 : i);
        break;
    }
    return out;
}

json to_json(const prove_report& r) {
    json memory = nullptr;
    if (r.memory) {
        memory = json::object();
        if (r.frame_exact) memory["frame"] = number(r.memory->frame);
        memory["heap"] = number(r.memory->heap);
        memory["rss"] = number(r.memory->rss);
    }
    json latency = json::object();
    for (const auto& l : r.latency) {
        latency[l.source] = {{"count", l.count},     {"p50", number(l.p50)},   {"p90", number(l.p90)},
                             {"p99", number(l.p99)}, {"p999", number(l.p999)}, {"max", number(l.max)}};
    }
    const machine_facts& m = r.machine;
    return json{
        {"reached", r.reached},
        {"reason", r.reason ? json(*r.reason) : json(nullptr)},
        {"target", r.target},
        {"tasks", r.tasks},
        {"live_tasks", r.live_tasks},
        {"workload", r.workload},
        {"engine", r.engine},
        {"layout", r.layout},
        {"threads", r.threads},
        {"time_to_target_seconds", number(r.time_to_target_seconds)},
        {"spawn_rate_per_second", number(r.spawn_rate_per_second)},
        {"memory_per_task_bytes", memory},
        {"measure_seconds", number(r.measure_seconds)},
        {"resumes_per_second", number(r.resumes_per_second)},
        {"latency_seconds", latency},
        {"cpu_seconds", number(r.cpu_seconds)},
        {"machine",
         {{"cpu_model", text(m.cpu_model)},
          {"cpus", m.cpus},
          {"memory_bytes", m.memory_bytes},
          {"kernel", text(m.kernel)},
          {"compiler", m.compiler},
          {"boost", m.boost},
          {"corostorm", m.corostorm}}},
    };
}

std::string to_table(const prove_report& r) {
    std::string out;
    const auto line = [&out](std::string_view label, const std::string& value) {
        out += fmt::format("  {:<17} {}\n", label, value);
    };
    const char* counted = r.counts_spawned ? "tasks spawned" : "tasks";
    out += fmt::format("corostorm prove: {} {} {}, {} engine, {} layout, {} worker thread{}\n\n",
                       group_digits(r.target), r.workload, counted, r.engine, r.layout, r.threads,
                       r.threads == 1 ? "" : "s");

    line("reached",
         r.reached ? fmt::format("yes, {} of {} {}", group_digits(r.tasks), group_digits(r.target), counted)
                   : fmt::format("no, {} of {} {}", group_digits(r.tasks), group_digits(r.target), counted));
    if (r.reason) line("stopped", *r.reason);
    if (r.time_to_target_seconds) line("time to reach", fmt::format("{:.3f} s", *r.time_to_target_seconds));
    if (r.spawn_rate_per_second) line("spawn rate", grouped(*r.spawn_rate_per_second) + " tasks/s");
    if (r.counts_spawned) {
        out +=
            "  (spawn_tree: a tree's tasks are not all alive at once, so the target counts tasks spawned)\n";
    }

    out += "\n";
    if (r.memory) {
        out += fmt::format("memory per task ({} live task{})\n", group_digits(r.live_tasks),
                           r.live_tasks == 1 ? "" : "s");
        if (r.frame_exact) {
            line("frame",
                 fmt::format("{:<11} exact bytes of live coroutine frames", bytes_text(r.memory->frame)));
        }
        line("heap", fmt::format("{:<11} growth of malloc's bytes in use since before the first spawn",
                                 bytes_text(r.memory->heap)));
        line("rss", fmt::format("{:<11} growth of resident memory since before the first spawn",
                                bytes_text(r.memory->rss)));
    } else {
        out += "memory per task: no live task to divide by\n";
    }

    out += "\n";
    bool overflow = false;
    if (r.measure_seconds) {
        out += fmt::format("measured over {:.2f} s after reaching the target\n", *r.measure_seconds);
        line("resumes", r.resumes_per_second ? grouped(*r.resumes_per_second) + " /s" : std::string("-"));
        if (r.latency.empty()) {
            line("latency", "no samples");
        } else {
            out += fmt::format("  {:<8} {:>14} {:>11} {:>11} {:>11} {:>11} {:>11}\n", "latency", "samples",
                               "p50", "p90", "p99", "p99.9", "max*");
            for (const auto& l : r.latency) {
                overflow = overflow || l.max_overflows;
                out += fmt::format("    {:<6} {:>14} {:>11} {:>11} {:>11} {:>11} {:>11}\n", l.source,
                                   group_digits(l.count), latency_text(l.p50), latency_text(l.p90),
                                   latency_text(l.p99), latency_text(l.p999),
                                   fmt::format("{}{}", l.max_overflows ? ">" : "", latency_text(l.max)));
            }
        }
    } else {
        out += "not measured: the target was not reached\n";
    }
    line("cpu time", fmt::format("{:.2f} s (process user + system, spawning and measuring)", r.cpu_seconds));

    const machine_facts& m = r.machine;
    out += "\nmachine\n";
    line("cpu", or_unknown(m.cpu_model));
    line("cores available", std::to_string(m.cpus));
    line("memory", m.memory_bytes == 0 ? std::string("unknown") : gib_text(m.memory_bytes));
    line("kernel", or_unknown(m.kernel));
    line("compiler", m.compiler);
    line("boost", m.boost);
    line("corostorm", m.corostorm);

    if (r.measure_seconds && !r.latency.empty()) {
        out += fmt::format(
            "\n* max: the upper bound of the highest non-empty latency bucket (buckets double from 1 us to "
            "16.8 s){}; the exact maximum is not recorded.\n",
            overflow ? ", \">\" when samples fell beyond the last bucket" : "");
    }
    return out;
}

}  // namespace corostorm::daemon
