#include "metrics/exporter.h"

#include <prometheus/text_serializer.h>

#include <sstream>
#include <utility>

#include "metrics/probes.h"

namespace corostorm::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
    return MetricFamily{std::move(name), std::move(help), type, {}};
}

ClientMetric labelled(std::vector<ClientMetric::Label> labels) {
    ClientMetric m;
    m.label = std::move(labels);
    return m;
}

void add_gauge(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric m = labelled(std::move(labels));
    m.gauge.value = value;
    f.metric.push_back(std::move(m));
}

void add_counter(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric m = labelled(std::move(labels));
    m.counter.value = value;
    f.metric.push_back(std::move(m));
}

void add_histogram(MetricFamily& f, std::vector<ClientMetric::Label> labels, const latency_snapshot& s) {
    ClientMetric m = labelled(std::move(labels));
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < latency_histogram::finite_buckets; ++i) {
        cumulative += s.buckets[i];
        m.histogram.bucket.push_back({cumulative, latency_histogram::upper_bound_seconds(i)});
    }
    // The serializer adds the +Inf bucket from the total count.
    m.histogram.sample_count = s.count();
    m.histogram.sample_sum = static_cast<double>(s.sum_ns) / 1e9;
    f.metric.push_back(std::move(m));
}

}  // namespace

std::vector<MetricFamily> runtime_exporter::Collect() const {
    const runtime_totals totals = sum_shards(source_.shards, source_.workloads.size());
    const scenario_view scenario = source_.scenario ? source_.scenario() : scenario_view{};
    const std::string& engine = source_.engine;
    std::vector<MetricFamily> out;

    auto build = family("corostorm_build_info",
                        "Always 1; the labels say which corostorm (version and git revision), engine, "
                        "compiler and Boost produced these series.",
                        MetricType::Gauge);
    add_gauge(build,
              {{"version", source_.version},
               {"engine", engine},
               {"compiler", compiler()},
               {"boost", COROSTORM_BOOST_VERSION},
               {"revision", source_.revision}},
              1);
    out.push_back(std::move(build));

    auto live =
        family("corostorm_tasks_live", "Coroutines alive now (spawned and not yet finished), per workload.",
               MetricType::Gauge);
    auto target = family("corostorm_tasks_target",
                         "Tasks the current stage aims for at this instant (follows the ramp); compare "
                         "with corostorm_tasks_live.",
                         MetricType::Gauge);
    auto spawned =
        family("corostorm_tasks_spawned_total",
               "Tasks started since the process started; rate() is the spawn rate.", MetricType::Counter);
    auto completed = family("corostorm_tasks_completed_total",
                            "Tasks finished, by outcome: ok (ran to its end), error (an exception "
                            "escaped it), cancelled (retired by a lower target or shutdown).",
                            MetricType::Counter);
    auto resumes = family("corostorm_task_resumes_total",
                          "Context switches into tasks; rate() is resumes per second.", MetricType::Counter);
    auto frames = family("corostorm_coroutine_frame_bytes",
                         "Bytes held by live coroutine frames, exactly as the compiler requested them "
                         "(allocator rounding excluded; see memory_per_task_bytes for what memory really "
                         "grew by).",
                         MetricType::Gauge);
    auto latency = family("corostorm_schedule_latency_seconds",
                          "Scheduling latency. source=timer: actual wake-up minus the intended deadline "
                          "(the schedule, not the previous wake, so backlog is not hidden); source=ready: "
                          "resume minus the moment the task was made runnable (a yield, a message, a join); "
                          "source=io (echo, rpc): resume minus the socket completion that made it runnable. "
                          "Buckets double from 1us; use histogram_quantile over rate() of the buckets.",
                          MetricType::Histogram);
    auto connections = family("corostorm_connections_live",
                              "Open loopback TCP connections (echo: one per unit, two descriptors each; rpc: "
                              "the shared connections the callers' requests go over).",
                              MetricType::Gauge);
    auto round_trip = family("corostorm_io_round_trip_seconds",
                             "echo and rpc: message sent to reply received, as the calling task sees it "
                             "(its own queueing included); 1 in latency.sample_every round trips is "
                             "recorded. Buckets double from 1us.",
                             MetricType::Histogram);
    for (std::size_t w = 0; w < source_.workloads.size(); ++w) {
        const auto& t = totals.workloads[w];
        const ClientMetric::Label l_engine{"engine", engine};
        const ClientMetric::Label l_workload{"workload", source_.workloads[w]};
        add_gauge(live, {l_engine, l_workload}, static_cast<double>(t.live));
        if (w < scenario.targets.size()) {
            add_gauge(target, {l_engine, l_workload}, static_cast<double>(scenario.targets[w]));
        }
        add_counter(spawned, {l_engine, l_workload}, static_cast<double>(t.spawned));
        for (const task_outcome o : all_task_outcomes) {
            add_counter(completed, {l_engine, l_workload, {"outcome", std::string(to_string(o))}},
                        static_cast<double>(t.completed[static_cast<std::size_t>(o)]));
        }
        add_counter(resumes, {l_engine, l_workload}, static_cast<double>(t.resumes));
        if (source_.frame_bytes_exact)
            add_gauge(frames, {l_engine, l_workload}, static_cast<double>(t.frame_bytes));
        const bool io = w < source_.io_workloads.size() && source_.io_workloads[w];
        for (const latency_source src : all_latency_sources) {
            if (src == latency_source::io && !io) continue;
            add_histogram(latency, {l_engine, l_workload, {"source", std::string(to_string(src))}},
                          t.latency[static_cast<std::size_t>(src)]);
        }
        if (io) {
            add_gauge(connections, {l_engine, l_workload}, static_cast<double>(t.connections));
            add_histogram(round_trip, {l_engine, l_workload}, t.round_trip);
        }
    }
    out.push_back(std::move(live));
    if (!target.metric.empty()) out.push_back(std::move(target));
    out.push_back(std::move(spawned));
    out.push_back(std::move(completed));
    out.push_back(std::move(resumes));
    if (!frames.metric.empty()) out.push_back(std::move(frames));
    out.push_back(std::move(latency));
    if (!connections.metric.empty()) out.push_back(std::move(connections));
    if (!round_trip.metric.empty()) out.push_back(std::move(round_trip));

    if (const auto per_task = measure_memory_per_task(totals, source_.rss_baseline_bytes,
                                                      source_.heap_baseline_bytes, source_.kernel_baseline)) {
        auto mem = family("corostorm_memory_per_task_bytes",
                          "Memory one live task costs, by method: frame = exact coroutine frame bytes / "
                          "live tasks (lean engine only: Asio allocates its frames itself); heap = growth "
                          "of malloc bytes in use since before the first spawn / live tasks; rss = growth "
                          "of resident memory since then / live tasks; kernel = growth of the kernel's own "
                          "memory (the memory cgroup's kernel and socket memory, else the machine's slab "
                          "and socket buffers) / live tasks: a connection's larger share, outside rss. rss "
                          "+ kernel is what the machine pays; absent while no task is alive.",
                          MetricType::Gauge);
        auto grown = family("corostorm_memory_growth_bytes",
                            "The numerator of corostorm_memory_per_task_bytes, by method: bytes grown since "
                            "before the first spawn (frame: bytes of live frames). A fleet's memory per task "
                            "is sum(this) / sum(corostorm_tasks_live), never an average of ratios.",
                            MetricType::Gauge);
        const auto both = [&](const char* method, double per, double total) {
            add_gauge(mem, {{"engine", engine}, {"method", method}}, per);
            add_gauge(grown, {{"engine", engine}, {"method", method}}, total);
        };
        if (source_.frame_bytes_exact) both("frame", per_task->frame, per_task->frame_growth);
        both("heap", per_task->heap, per_task->heap_growth);
        both("rss", per_task->rss, per_task->rss_growth);
        if (per_task->kernel) both("kernel", *per_task->kernel, *per_task->kernel_growth);
        out.push_back(std::move(mem));
        out.push_back(std::move(grown));
    }

    auto busy = family("corostorm_worker_busy_seconds_total",
                       "CPU time of each pool thread (tasks of either engine and the runtime's own "
                       "bookkeeping), published every 5 ms; rate() of 1.0 means that thread was never "
                       "idle. In the shared layout worker=N is pool thread N.",
                       MetricType::Counter);
    for (std::size_t i = 0; i < totals.busy_seconds.size(); ++i) {
        add_counter(busy, {{"engine", engine}, {"worker", std::to_string(i)}}, totals.busy_seconds[i]);
    }
    out.push_back(std::move(busy));

    auto denied = family("corostorm_spawn_denied_total",
                         "Spawns that did not happen, by reason: allocation = no memory for the frame "
                         "(one per failed spawn); memory = the memory guard held a worker's spawns back "
                         "(one per worker per 5 ms control turn); fds = the descriptor budget held a "
                         "worker's spawns of echo units back (one per worker per control turn).",
                         MetricType::Counter);
    add_counter(denied, {{"reason", "allocation"}}, static_cast<double>(totals.spawn_failures));
    add_counter(denied, {{"reason", "memory"}}, static_cast<double>(totals.spawn_denied_memory));
    add_counter(denied, {{"reason", "fds"}}, static_cast<double>(totals.spawn_denied_fds));
    out.push_back(std::move(denied));

    if (source_.reloads != nullptr) {
        auto reloads = family("corostorm_config_reloads_total",
                              "Config reloads (SIGHUP) by result: success = the file was valid and its live "
                              "keys applied; failure = it was not, and the running config stayed.",
                              MetricType::Counter);
        add_counter(reloads, {{"result", "success"}},
                    static_cast<double>(source_.reloads->success.load(std::memory_order_relaxed)));
        add_counter(reloads, {{"result", "failure"}},
                    static_cast<double>(source_.reloads->failure.load(std::memory_order_relaxed)));
        out.push_back(std::move(reloads));
        auto last = family("corostorm_config_last_reload_successful",
                           "1 when the last config load (the start, or a SIGHUP reload) succeeded, 0 when it "
                           "failed and the config in force is not the file's.",
                           MetricType::Gauge);
        add_gauge(last, {}, source_.reloads->last_successful.load(std::memory_order_relaxed) ? 1.0 : 0.0);
        out.push_back(std::move(last));
        auto when = family("corostorm_config_last_reload_success_timestamp_seconds",
                           "When the config in force was loaded (the start, or the last successful reload), "
                           "in seconds since the Unix epoch.",
                           MetricType::Gauge);
        add_gauge(when, {}, source_.reloads->last_success_unix_seconds.load(std::memory_order_relaxed));
        out.push_back(std::move(when));
    }

    if (source_.memory_limit_bytes) {
        auto limit = family("corostorm_memory_limit_bytes",
                            "The memory limit the guard enforces (memory.limit: the cgroup's, the "
                            "machine's or the configured size); spawning stops at limit - headroom.",
                            MetricType::Gauge);
        add_gauge(limit, {}, static_cast<double>(*source_.memory_limit_bytes));
        out.push_back(std::move(limit));
    }

    if (!scenario.stage.empty()) {
        auto stage = family("corostorm_scenario_stage_info", "1 for the scenario stage running now.",
                            MetricType::Gauge);
        add_gauge(stage, {{"stage", scenario.stage}}, 1);
        out.push_back(std::move(stage));
    }
    return out;
}

std::vector<MetricFamily> http_exporter::Collect() const {
    const http_totals t = read_();
    std::vector<MetricFamily> out;
    auto requests =
        family("corostorm_http_requests_total",
               "Requests the HTTP server answered, by path (a route, or other: an unknown path or "
               "a request that could not be read) and status code.",
               MetricType::Counter);
    for (const auto& r : t.answered) {
        add_counter(requests, {{"path", r.path}, {"code", std::to_string(r.code)}},
                    static_cast<double>(r.count));
    }
    out.push_back(std::move(requests));
    auto open = family("corostorm_http_connections_open", "HTTP connections open now.", MetricType::Gauge);
    add_gauge(open, {}, static_cast<double>(t.connections_open));
    out.push_back(std::move(open));
    auto evicted =
        family("corostorm_http_connections_evicted_total",
               "HTTP connections the server closed to make room: the connection limit was reached "
               "when another arrived, the process ran out of descriptors, or unread responses held "
               "their memory bound.",
               MetricType::Counter);
    add_counter(evicted, {}, static_cast<double>(t.connections_evicted));
    out.push_back(std::move(evicted));
    auto errors = family("corostorm_http_internal_errors_total",
                         "Routes that threw (answered 500) and sessions ended by an unexpected exception.",
                         MetricType::Counter);
    add_counter(errors, {}, static_cast<double>(t.internal_errors));
    out.push_back(std::move(errors));
    return out;
}

std::string serialize(const std::vector<const prometheus::Collectable*>& collectables) {
    std::vector<MetricFamily> families;
    for (const auto* c : collectables) {
        auto f = c->Collect();
        families.insert(families.end(), std::make_move_iterator(f.begin()), std::make_move_iterator(f.end()));
    }
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, families);
    return out.str();
}

}  // namespace corostorm::metrics
