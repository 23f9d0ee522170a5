#include "prove/prove_report.h"

#include <fmt/format.h>

#include <cmath>
#include <utility>

#include "config/config.h"
#include "metrics/probes.h"
#include "text/format.h"

namespace corostorm::prove {

using text::group_digits;

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

std::string or_unknown(const std::string& s) { return s.empty() ? "unknown" : s; }

json base_json(const prove_report& r);
std::string single_table(const prove_report& r);
std::string side_by_side_table(const prove_report& r, const go_side& go);

}  // namespace

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

namespace {

json base_json(const prove_report& r) {
    json memory = nullptr;
    if (r.memory) {
        memory = json::object();
        if (r.frame_exact) memory["frame"] = number(r.memory->frame);
        memory["heap"] = number(r.memory->heap);
        memory["rss"] = number(r.memory->rss);
        if (r.memory->kernel) memory["kernel"] = number(*r.memory->kernel);
    }
    const auto quantiles = [](const latency_summary& l) {
        return json{{"count", l.count},     {"p50", number(l.p50)},   {"p90", number(l.p90)},
                    {"p99", number(l.p99)}, {"p999", number(l.p999)}, {"max", number(l.max)}};
    };
    json latency = json::object();
    for (const auto& l : r.latency) latency[l.source] = quantiles(l);
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
        {"connections", r.connections},
        {"io_round_trip", r.io_round_trip ? quantiles(*r.io_round_trip) : json(nullptr)},
        {"round_trips_per_second", number(r.round_trips_per_second)},
        {"cpu_seconds", number(r.cpu_seconds)},
        {"measure_cpu_seconds", number(r.measure_cpu_seconds)},
        {"cpu_ns_per_resume", number(r.cpu_ns_per_resume)},
        {"seconds_per_tree", number(r.seconds_per_tree)},
        {"peak_resident_bytes", r.peak_resident_bytes},
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

std::string single_table(const prove_report& r) {
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
    if (r.connections > 0) line("connections", group_digits(r.connections) + " live (loopback TCP)");
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
            line("frame", fmt::format("{:<11} exact bytes of live coroutine frames",
                                      text::format_bytes(r.memory->frame, text::byte_unit::byte)));
        }
        line("heap", fmt::format("{:<11} growth of malloc's bytes in use since before the first spawn",
                                 text::format_bytes(r.memory->heap, text::byte_unit::byte)));
        line("rss", fmt::format("{:<11} growth of resident memory since before the first spawn",
                                text::format_bytes(r.memory->rss, text::byte_unit::byte)));
        if (r.memory->kernel) {
            line("kernel", fmt::format("{:<11} growth of the kernel's memory (sockets, slab) since then",
                                       text::format_bytes(*r.memory->kernel, text::byte_unit::byte)));
        }
    } else {
        out += "memory per task: no live task to divide by\n";
    }

    out += "\n";
    bool overflow = false;
    if (r.measure_seconds) {
        out += fmt::format("measured over {:.2f} s after reaching the target\n", *r.measure_seconds);
        line("resumes", r.resumes_per_second ? grouped(*r.resumes_per_second) + " /s" : std::string("-"));
        line("cpu per resume", r.cpu_ns_per_resume
                                   ? fmt::format("{:.1f} ns (process CPU time in the window / "
                                                 "resumes in it)",
                                                 *r.cpu_ns_per_resume)
                                   : std::string("-"));
        if (r.seconds_per_tree) {
            line("time per tree", fmt::format("{} (the window / the trees finished in it)",
                                              latency_text(*r.seconds_per_tree)));
        }
        if (r.latency.empty()) {
            line("latency", "no samples");
        } else {
            out += fmt::format("  {:<8} {:>14} {:>11} {:>11} {:>11} {:>11} {:>11}\n", "latency", "samples",
                               "p50", "p90", "p99", "p99.9", "max*");
            std::vector<latency_summary> rows = r.latency;
            if (r.io_round_trip) {
                rows.push_back(*r.io_round_trip);
                rows.back().source = "rtt";  // message sent to reply received
            }
            for (const auto& l : rows) {
                overflow = overflow || l.max_overflows;
                out += fmt::format("    {:<6} {:>14} {:>11} {:>11} {:>11} {:>11} {:>11}\n", l.source,
                                   group_digits(l.count), latency_text(l.p50), latency_text(l.p90),
                                   latency_text(l.p99), latency_text(l.p999),
                                   fmt::format("{}{}", l.max_overflows ? ">" : "", latency_text(l.max)));
            }
        }
        if (r.round_trips_per_second) {
            line("round trips",
                 grouped(*r.round_trips_per_second) + " /s (rtt: message sent to reply received)");
        }
    } else {
        out += "not measured: the target was not reached\n";
    }
    line("cpu time", fmt::format("{:.2f} s (process user + system, spawning and measuring)", r.cpu_seconds));
    line("peak rss", text::format_bytes(r.peak_resident_bytes, text::byte_unit::mib));

    const machine_facts& m = r.machine;
    out += "\nmachine\n";
    line("cpu", or_unknown(m.cpu_model));
    line("cores available", std::to_string(m.cpus));
    line("memory", m.memory_bytes == 0 ? std::string("unknown")
                                       : text::format_bytes(m.memory_bytes, text::byte_unit::gib));
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

// ---- side by side with the Go peer ----

// a / b as "8.1x", or "" when either is missing or b is 0.
std::string ratio_text(const std::optional<double>& a, const std::optional<double>& b) {
    if (!a || !b || !std::isfinite(*a) || !std::isfinite(*b) || *b <= 0) return "";
    const double r = *a / *b;
    return r >= 1000 ? fmt::format("{:.0f}x", r) : fmt::format("{:.3g}x", r);
}

const latency_summary* find_latency(const prove_report& r, std::string_view source) {
    for (const auto& l : r.latency) {
        if (l.source == source) return &l;
    }
    return nullptr;
}

// The figures of one side of the table; nullopt where the report has none.
struct side_figures {
    std::optional<double> time_to_target, spawn_rate, frame, heap, rss, kernel, window, resumes,
        cpu_per_resume, per_tree, cpu, peak;
};

side_figures figures_of(const prove_report* x) {
    if (x == nullptr) return {};
    const auto memory = [x](double metrics::memory_per_task::*method) -> std::optional<double> {
        if (x->memory) return (*x->memory).*method;
        return std::nullopt;
    };
    return side_figures{
        .time_to_target = x->time_to_target_seconds,
        .spawn_rate = x->spawn_rate_per_second,
        .frame = x->frame_exact ? memory(&metrics::memory_per_task::frame) : std::nullopt,
        .heap = memory(&metrics::memory_per_task::heap),
        .rss = memory(&metrics::memory_per_task::rss),
        .kernel = x->memory ? x->memory->kernel : std::nullopt,
        .window = x->measure_seconds,
        .resumes = x->resumes_per_second,
        .cpu_per_resume = x->cpu_ns_per_resume,
        .per_tree = x->seconds_per_tree,
        .cpu = x->cpu_seconds,
        .peak = static_cast<double>(x->peak_resident_bytes),
    };
}

std::string side_by_side_table(const prove_report& r, const go_side& go) {
    const prove_report* g = go.report.get();
    const side_figures a = figures_of(&r);
    const side_figures b = figures_of(g);
    std::string out;
    out += fmt::format("corostorm prove --against-go: {} {} {}, {} worker thread{}\n", group_digits(r.target),
                       r.workload, r.counts_spawned ? "tasks spawned" : "tasks", r.threads,
                       r.threads == 1 ? "" : "s");
    const std::string peer =
        g != nullptr ? fmt::format(" ({}, GOMAXPROCS {})", g->machine.compiler, g->threads) : std::string();
    out += fmt::format(
        "  {0}: the {0} engine ({1} layout); go: the Go peer{2}, run after it with the same flags\n",
        r.engine, r.layout, peer);
    if (!go.error.empty()) out += fmt::format("  go: {}\n", go.error);
    out += "\n";

    // One row: a label, each side's figure (or "-") and, for figures, corostorm / go.
    const auto row = [&out](std::string_view label, const std::string& mine, const std::string& theirs,
                            const std::string& ratio = "") {
        out += fmt::format("  {:<17} {:>15} {:>15} {:>10}\n", label, mine, theirs, ratio);
    };
    const auto figure = [&row](std::string_view label, const std::optional<double>& x,
                               const std::optional<double>& y, auto format) {
        row(label, x ? format(*x) : "-", y ? format(*y) : "-", ratio_text(x, y));
    };
    const auto seconds_text = [](double v) { return fmt::format("{:.3f} s", v); };
    const auto rate_text = [](double v) { return grouped(v) + " /s"; };
    const auto ns_text = [](double v) { return fmt::format("{:.1f} ns", v); };
    const auto bytes_text = [](double v) { return text::format_bytes(v, text::byte_unit::byte); };
    const auto peak_text = [](double v) {
        return text::format_bytes(static_cast<std::uint64_t>(v), text::byte_unit::mib);
    };
    const auto both = [g](auto get) { return g != nullptr ? get(*g) : std::string("-"); };

    row("", r.engine, "go", r.engine + "/go");
    row("reached", r.reached ? "yes" : "no",
        both([](const prove_report& x) { return x.reached ? "yes" : "no"; }));
    row("tasks", group_digits(r.tasks), both([](const prove_report& x) { return group_digits(x.tasks); }));
    figure("time to reach", a.time_to_target, b.time_to_target, seconds_text);
    figure("spawn rate", a.spawn_rate, b.spawn_rate, rate_text);

    out += "\nmemory per task (live tasks at the end of the window)\n";
    row("live tasks", group_digits(r.live_tasks),
        both([](const prove_report& x) { return group_digits(x.live_tasks); }));
    if (r.frame_exact) figure("frame", a.frame, b.frame, bytes_text);
    figure("heap", a.heap, b.heap, bytes_text);
    figure("rss", a.rss, b.rss, bytes_text);
    if (a.kernel || b.kernel) figure("kernel", a.kernel, b.kernel, bytes_text);

    out += "\nmeasured after reaching the target\n";
    figure("window", a.window, b.window, [](double v) { return fmt::format("{:.2f} s", v); });
    figure("resumes", a.resumes, b.resumes, rate_text);
    figure("cpu per resume", a.cpu_per_resume, b.cpu_per_resume, ns_text);
    if (a.per_tree || b.per_tree) figure("time per tree", a.per_tree, b.per_tree, latency_text);
    if (r.connections > 0 || (g != nullptr && g->connections > 0)) {
        row("connections", group_digits(r.connections),
            both([](const prove_report& x) { return group_digits(x.connections); }));
    }
    if (r.round_trips_per_second || (g != nullptr && g->round_trips_per_second)) {
        figure("round trips", r.round_trips_per_second,
               g != nullptr ? g->round_trips_per_second : std::nullopt, rate_text);
    }
    // The sources, then the round trip (rtt) as one more row group.
    std::vector<std::string_view> groups;
    for (const metrics::latency_source s : metrics::all_latency_sources)
        groups.push_back(metrics::to_string(s));
    groups.push_back("rtt");
    for (const std::string_view source : groups) {
        const auto pick = [source](const prove_report& p) -> const latency_summary* {
            if (source == "rtt") return p.io_round_trip ? &*p.io_round_trip : nullptr;
            return find_latency(p, source);
        };
        const latency_summary* x = pick(r);
        const latency_summary* y = g != nullptr ? pick(*g) : nullptr;
        if (x == nullptr && y == nullptr) continue;
        row(fmt::format("{} samples", source), x != nullptr ? group_digits(x->count) : "-",
            y != nullptr ? group_digits(y->count) : "-");
        const auto quantile = [&](std::string_view name, double latency_summary::*field) {
            figure(fmt::format("{} {}", source, name), x != nullptr ? std::optional(x->*field) : std::nullopt,
                   y != nullptr ? std::optional(y->*field) : std::nullopt, latency_text);
        };
        quantile("p50", &latency_summary::p50);
        quantile("p90", &latency_summary::p90);
        quantile("p99", &latency_summary::p99);
        quantile("p99.9", &latency_summary::p999);
        quantile("max*", &latency_summary::max);
    }
    figure("cpu time", a.cpu, b.cpu, [](double v) { return fmt::format("{:.2f} s", v); });
    figure("peak rss", a.peak, b.peak, peak_text);

    const machine_facts& m = r.machine;
    out += "\nmachine\n";
    row("cpu", or_unknown(m.cpu_model), "");
    row("cores available", std::to_string(m.cpus), "");
    row("memory",
        m.memory_bytes == 0 ? std::string("unknown")
                            : text::format_bytes(m.memory_bytes, text::byte_unit::gib),
        "");
    row("kernel", or_unknown(m.kernel), "");
    row("compiler", m.compiler, both([](const prove_report& x) { return x.machine.compiler; }));
    row("boost", m.boost, "");
    row("corostorm", m.corostorm, both([](const prove_report& x) { return x.machine.corostorm; }));
    out += fmt::format(
        "\n{0}/go: the {0} figure divided by Go's (for memory, time and latency below 1 favours {0}; for "
        "rates "
        "above 1 does).\n* max: the upper bound of the highest non-empty latency bucket (buckets double from "
        "1 us to 16.8 s, the same on both sides); the exact maximum is not recorded.\n",
        r.engine);
    return out;
}

}  // namespace

std::string to_table(const prove_report& r) { return r.go ? side_by_side_table(r, *r.go) : single_table(r); }

json to_json(const prove_report& r) {
    json out = base_json(r);
    if (r.go) {
        out["go"] = r.go->json;
        out["go_error"] = text(r.go->error);
    }
    return out;
}

prove_report report_from_json(const json& j) {
    const auto opt = [&j](const char* key) -> std::optional<double> {
        const json& v = j.at(key);
        if (v.is_null()) return std::nullopt;
        return v.get<double>();
    };
    const auto str = [](const json& v) { return v.is_null() ? std::string() : v.get<std::string>(); };
    prove_report r;
    r.reached = j.at("reached").get<bool>();
    if (!j.at("reason").is_null()) r.reason = j.at("reason").get<std::string>();
    r.target = j.at("target").get<std::uint64_t>();
    r.tasks = j.at("tasks").get<std::uint64_t>();
    r.live_tasks = j.at("live_tasks").get<std::uint64_t>();
    r.workload = j.at("workload").get<std::string>();
    r.counts_spawned = r.workload == config::to_string(config::workload_kind::spawn_tree);
    r.engine = j.at("engine").get<std::string>();
    r.layout = j.at("layout").get<std::string>();
    r.threads = j.at("threads").get<unsigned>();
    r.time_to_target_seconds = opt("time_to_target_seconds");
    r.spawn_rate_per_second = opt("spawn_rate_per_second");
    if (const json& m = j.at("memory_per_task_bytes"); !m.is_null()) {
        const auto field = [&m](const char* key) {
            return m.contains(key) && !m.at(key).is_null() ? m.at(key).get<double>() : std::nan("");
        };
        r.frame_exact = m.contains("frame");
        r.memory.emplace();
        r.memory->frame = field("frame");
        r.memory->heap = field("heap");
        r.memory->rss = field("rss");
        if (m.contains("kernel") && !m.at("kernel").is_null())
            r.memory->kernel = m.at("kernel").get<double>();
    }
    r.measure_seconds = opt("measure_seconds");
    r.resumes_per_second = opt("resumes_per_second");
    for (const metrics::latency_source s : metrics::all_latency_sources) {
        const std::string source(metrics::to_string(s));
        const json& all = j.at("latency_seconds");
        if (!all.contains(source)) continue;
        const json& l = all.at(source);
        const auto q = [&l](const char* key) {
            return l.at(key).is_null() ? std::nan("") : l.at(key).get<double>();
        };
        r.latency.push_back(latency_summary{.source = source,
                                            .count = l.at("count").get<std::uint64_t>(),
                                            .p50 = q("p50"),
                                            .p90 = q("p90"),
                                            .p99 = q("p99"),
                                            .p999 = q("p999"),
                                            .max = q("max")});
    }
    // The I/O keys: absent from reports of peers that predate them.
    if (j.contains("connections")) r.connections = j.at("connections").get<std::uint64_t>();
    if (j.contains("io_round_trip") && !j.at("io_round_trip").is_null()) {
        const json& l = j.at("io_round_trip");
        const auto q = [&l](const char* key) {
            return l.at(key).is_null() ? std::nan("") : l.at(key).get<double>();
        };
        r.io_round_trip = latency_summary{.source = "rtt",
                                          .count = l.at("count").get<std::uint64_t>(),
                                          .p50 = q("p50"),
                                          .p90 = q("p90"),
                                          .p99 = q("p99"),
                                          .p999 = q("p999"),
                                          .max = q("max")};
    }
    if (j.contains("round_trips_per_second")) r.round_trips_per_second = opt("round_trips_per_second");
    r.cpu_seconds = j.at("cpu_seconds").is_null() ? 0.0 : j.at("cpu_seconds").get<double>();
    r.measure_cpu_seconds = opt("measure_cpu_seconds");
    r.cpu_ns_per_resume = opt("cpu_ns_per_resume");
    r.seconds_per_tree = opt("seconds_per_tree");
    r.peak_resident_bytes = j.at("peak_resident_bytes").get<std::uint64_t>();
    const json& m = j.at("machine");
    r.machine = machine_facts{
        .cpu_model = str(m.at("cpu_model")),
        .cpus = m.at("cpus").get<unsigned>(),
        .memory_bytes = m.at("memory_bytes").get<std::uint64_t>(),
        .kernel = str(m.at("kernel")),
        .compiler = str(m.at("compiler")),
        .boost = str(m.at("boost")),
        .corostorm = str(m.at("corostorm")),
    };
    return r;
}

}  // namespace corostorm::prove
