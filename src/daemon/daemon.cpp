#include "daemon/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>

#include "daemon/logging.h"
#include "metrics/exporter.h"
#include "metrics/probes.h"
#include "metrics/process_collector.h"
#include "runtime/clock.h"
#include "runtime/pool.h"
#include "scenario/timeline.h"
#include "server/http_server.h"
#include "workloads/cpu.h"
#include "workloads/ring.h"
#include "workloads/sleep.h"
#include "workloads/spawn_tree.h"
#include "workloads/yield.h"

namespace corostorm::daemon {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr auto progress_interval = 10s;
constexpr std::uint64_t heartbeat_stale_ns = 5'000'000'000;

std::uint64_t to_ns(config::duration d) { return static_cast<std::uint64_t>(d.count()); }

// One factory per workload and engine: the same task body written as a lean
// task or as an asio::awaitable.
template <class Lean, class Asio, class Options>
std::unique_ptr<runtime::task_factory> make_for(config::engine_kind engine, const Options& options) {
    if (engine == config::engine_kind::asio) return std::make_unique<Asio>(options);
    return std::make_unique<Lean>(options);
}

std::unique_ptr<runtime::task_factory> make_workload(const config::workload_config& w,
                                                     config::engine_kind engine) {
    switch (w.kind) {
        case config::workload_kind::sleep:
            return make_for<workloads::sleep_workload, workloads::asio_sleep_workload>(
                engine, workloads::sleep_options{.period_ns = to_ns(w.sleep.period),
                                                 .rounds = w.sleep.rounds,
                                                 .work_ns = to_ns(w.sleep.work)});
        case config::workload_kind::yield:
            return make_for<workloads::yield_workload, workloads::asio_yield_workload>(
                engine, workloads::yield_options{.rounds = w.yield.rounds, .work_ns = to_ns(w.yield.work)});
        case config::workload_kind::ring:
            return make_for<workloads::ring_workload, workloads::asio_ring_workload>(
                engine, workloads::ring_options{.ring_size = w.ring.ring_size});
        case config::workload_kind::spawn_tree:
            return make_for<workloads::spawn_tree_workload, workloads::asio_spawn_tree_workload>(
                engine,
                workloads::spawn_tree_options{.fanout = w.spawn_tree.fanout, .depth = w.spawn_tree.depth});
        case config::workload_kind::cpu:
            return make_for<workloads::cpu_workload, workloads::asio_cpu_workload>(
                engine, workloads::cpu_options{.slice_ns = to_ns(w.cpu.slice), .rounds = w.cpu.rounds});
    }
    throw std::logic_error("unhandled workload kind");
}

std::string human_bytes(double b) { return fmt::format("{:.1f} B", b); }

class app {
public:
    explicit app(const config::config& cfg)
        : cfg_(cfg),
          threads_(cfg.runtime.threads != 0 ? cfg.runtime.threads : metrics::available_cpus()),
          timeline_(make_stages(cfg), cfg.scenario.repeat, weights(cfg), runtime::now_ns()),
          server_(cfg.server.host, cfg.server.port,
                  server::routes{
                      .metrics = [this] { return metrics_page(); },
                      .healthz = [this] { return health_page(); },
                      .readyz = [this] { return ready_page(); },
                      .status = [this] { return status_page(); },
                  }) {
        for (const auto& w : cfg.workloads) {
            factories_.push_back(make_workload(w, cfg.runtime.engine));
            workload_names_.push_back(w.name);
        }
        std::vector<runtime::task_factory*> raw;
        for (auto& f : factories_) raw.push_back(f.get());
        pool_ = std::make_unique<runtime::pool>(
            threads_, std::move(raw), runtime::worker_options{.sample_every = cfg.latency.sample_every});

        metrics::exporter_source source{
            .version = COROSTORM_VERSION,
            .engine = std::string(config::to_string(cfg.runtime.engine)),
            .frame_bytes_exact = cfg.runtime.engine == config::engine_kind::lean,
            .workloads = workload_names_,
            .shards = {},
            .rss_baseline_bytes = metrics::resident_bytes(),
            .heap_baseline_bytes = metrics::heap_in_use_bytes(),
            .scenario = [this] { return scenario_now(); },
        };
        for (unsigned i = 0; i < pool_->size(); ++i) source.shards.push_back(&pool_->at(i).shard());
        rss_baseline_ = source.rss_baseline_bytes;
        heap_baseline_ = source.heap_baseline_bytes;
        exporter_ = std::make_unique<metrics::runtime_exporter>(std::move(source));
    }

    int run() {
        spdlog::info("corostorm {} starting: {} worker thread(s), engine {}, layout {}, {} workload(s)",
                     COROSTORM_VERSION, threads_, config::to_string(cfg_.runtime.engine),
                     config::to_string(cfg_.runtime.layout), cfg_.workloads.size());
        server_.start();
        spdlog::info("serving /metrics /healthz /readyz /status on {}", server_.local_address());
        pool_->start();
        started_ns_ = runtime::now_ns();
        on_stage_timer();
        ready_.store(true, std::memory_order_release);  // release: pairs with ready_page()'s acquire
        schedule_progress();

        wait_for_signal();
        control_.run();
        return exit_code_;
    }

private:
    static std::vector<scenario::stage> make_stages(const config::config& cfg) {
        std::vector<scenario::stage> out;
        for (const auto& s : cfg.scenario.stages) out.push_back({s.name, s.tasks, to_ns(s.over)});
        return out;
    }

    static std::vector<double> weights(const config::config& cfg) {
        std::vector<double> out;
        for (const auto& w : cfg.workloads) out.push_back(w.weight);
        return out;
    }

    // ---- control thread ----

    void on_stage_timer() {
        const std::uint64_t now = runtime::now_ns();
        if (timeline_.advance(now)) {
            {
                std::lock_guard lock(scenario_mu_);
                stage_name_ = timeline_.current().name;
                ramps_ = timeline_.ramps();
            }
            pool_->set_targets(timeline_.ramps());
            if (timeline_.finished()) {
                spdlog::info("scenario finished; holding {} task(s) (repeat: false)",
                             timeline_.total_target_at(now));
            } else {
                const auto& s = timeline_.current();
                spdlog::info("stage {} ({}/{}): target {} task(s) over {}", s.name,
                             timeline_.stage_index() + 1, cfg_.scenario.stages.size(),
                             timeline_.ramps().empty() ? 0 : target_total_at_end(),
                             config::format_duration(std::chrono::nanoseconds(s.over_ns)));
            }
        }
        if (const auto end = timeline_.stage_end_ns()) {
            stage_timer_.expires_after(std::chrono::nanoseconds(*end > now ? *end - now : 0));
            stage_timer_.async_wait([this](const boost::system::error_code& ec) {
                if (!ec) on_stage_timer();
            });
        }
    }

    std::uint64_t target_total_at_end() const {
        std::uint64_t total = 0;
        for (const auto& r : timeline_.ramps()) total += r.to;
        return total;
    }

    void schedule_progress() {
        progress_timer_.expires_after(progress_interval);
        progress_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;
            const auto totals = metrics::sum_shards(exporter_shards(), workload_names_.size());
            const auto mem = metrics::measure_memory_per_task(totals, rss_baseline_, heap_baseline_);
            if (mem) {
                spdlog::info("live {} / target {}; memory per task: {}heap {}, rss {}", totals.live,
                             scenario_total_now(),
                             cfg_.runtime.engine == config::engine_kind::lean
                                 ? "frame " + human_bytes(mem->frame) + ", "
                                 : std::string(),
                             human_bytes(mem->heap), human_bytes(mem->rss));
            } else {
                spdlog::info("live 0 / target {}", scenario_total_now());
            }
            schedule_progress();
        });
    }

    void wait_for_signal() {
        signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
            if (ec) return;
            if (signo == SIGHUP) {
                // Reloading is not built yet; SIGHUP's default action would kill the daemon.
                spdlog::warn("received SIGHUP: config reload is not supported in this version; ignored");
                wait_for_signal();
                return;
            }
            on_signal(signo);
        });
    }

    // A second SIGINT/SIGTERM while draining: the user wants out now.
    void wait_for_second_signal() {
        signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
            if (ec) return;
            if (signo == SIGHUP) {
                wait_for_second_signal();
                return;
            }
            constexpr char msg[] = "corostorm: second signal, exiting without draining\n";
            [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
            std::_Exit(1);
        });
    }

    void on_signal(int signo) {
        spdlog::info("received {}; draining tasks (at most {} s)", strsignal(signo), drain_timeout.count());
        stage_timer_.cancel();
        progress_timer_.cancel();
        draining_.store(true, std::memory_order_relaxed);  // relaxed: only reported in /status
        wait_for_second_signal();
        // The drain waits on a thread of its own, so this control thread stays
        // free to see a second signal.
        drain_thread_ = std::thread([this] {
            const auto t0 = std::chrono::steady_clock::now();
            const bool clean = pool_->stop(drain_timeout);
            const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (clean) {
                spdlog::info("drained every task in {:.3f} s", took);
            } else {
                spdlog::warn("drain did not finish within {} s; remaining tasks were destroyed",
                             drain_timeout.count());
            }
            asio::post(control_, [this] {
                server_.stop();
                signals_.cancel();
                control_.stop();
            });
        });
    }

    // ---- any thread (server) ----

    std::vector<const metrics::worker_shard*> exporter_shards() const {
        std::vector<const metrics::worker_shard*> shards;
        for (unsigned i = 0; i < pool_->size(); ++i) shards.push_back(&pool_->at(i).shard());
        return shards;
    }

    metrics::scenario_view scenario_now() const {
        std::lock_guard lock(scenario_mu_);
        metrics::scenario_view view{stage_name_, {}};
        const std::uint64_t now = runtime::now_ns();
        for (const auto& r : ramps_) view.targets.push_back(r.at(now));
        return view;
    }

    std::uint64_t scenario_total_now() const {
        std::uint64_t total = 0;
        for (auto t : scenario_now().targets) total += t;
        return total;
    }

    server::response metrics_page() const {
        return {200, "text/plain; version=0.0.4; charset=utf-8",
                metrics::serialize({exporter_.get(), &process_})};
    }

    server::response health_page() const {
        if (draining_.load(std::memory_order_relaxed))
            return {200, "text/plain; charset=utf-8", "ok (draining)\n"};
        const std::uint64_t now = runtime::now_ns();
        for (unsigned i = 0; ready_.load(std::memory_order_acquire) && i < pool_->size(); ++i) {
            const std::uint64_t beat = pool_->at(i).shard().heartbeat_ns.read();
            if (beat != 0 && now > beat + heartbeat_stale_ns) {
                return {503, "text/plain; charset=utf-8",
                        fmt::format("worker {} made no progress for {:.1f} s\n", i,
                                    static_cast<double>(now - beat) / 1e9)};
            }
        }
        return {200, "text/plain; charset=utf-8", "ok\n"};
    }

    server::response ready_page() const {
        // acquire: pairs with the release in run(); ready implies the pool runs.
        if (ready_.load(std::memory_order_acquire) && !draining_.load(std::memory_order_relaxed)) {
            return {200, "text/plain; charset=utf-8", "ready\n"};
        }
        return {503, "text/plain; charset=utf-8", draining_ ? "draining\n" : "starting\n"};
    }

    server::response status_page() const;
    nlohmann::json memory_json(const std::optional<metrics::memory_per_task>& mem) const;

    config::config cfg_;
    unsigned threads_;
    std::vector<std::unique_ptr<runtime::task_factory>> factories_;
    std::vector<std::string> workload_names_;
    std::unique_ptr<runtime::pool> pool_;
    scenario::timeline timeline_;

    mutable std::mutex scenario_mu_;  // guards the two fields below (control thread writes, server reads)
    std::string stage_name_;
    std::vector<runtime::target_ramp> ramps_;

    std::unique_ptr<metrics::runtime_exporter> exporter_;
    metrics::process_collector process_;
    std::uint64_t rss_baseline_ = 0;
    std::uint64_t heap_baseline_ = 0;
    std::uint64_t started_ns_ = 0;
    std::atomic<bool> ready_{false};
    std::atomic<bool> draining_{false};
    int exit_code_ = 0;

    asio::io_context control_{1};
    asio::signal_set signals_{control_, SIGINT, SIGTERM, SIGHUP};
    asio::steady_timer stage_timer_{control_};
    asio::steady_timer progress_timer_{control_};
    std::thread drain_thread_;
    server::http_server server_;

public:
    ~app() {
        if (drain_thread_.joinable()) drain_thread_.join();
        server_.stop();
    }
};

nlohmann::json app::memory_json(const std::optional<metrics::memory_per_task>& mem) const {
    if (!mem) return nullptr;
    nlohmann::json out{{"heap", mem->heap}, {"rss", mem->rss}};
    if (cfg_.runtime.engine == config::engine_kind::lean) out["frame"] = mem->frame;
    return out;
}

server::response app::status_page() const {
    using nlohmann::json;
    const auto totals = metrics::sum_shards(exporter_shards(), workload_names_.size());
    const auto view = scenario_now();
    const auto mem = metrics::measure_memory_per_task(totals, rss_baseline_, heap_baseline_);
    json workloads = json::object();
    std::uint64_t target_total = 0;
    for (std::size_t w = 0; w < workload_names_.size(); ++w) {
        const auto& t = totals.workloads[w];
        const std::uint64_t target = w < view.targets.size() ? view.targets[w] : 0;
        target_total += target;
        json latency = json::object();
        const char* sources[] = {"timer", "ready"};
        for (std::size_t s = 0; s < metrics::latency_source_count; ++s) {
            const auto& h = t.latency[s];
            latency[sources[s]] = {{"count", h.count()},
                                   {"p50", h.quantile(0.5)},
                                   {"p90", h.quantile(0.9)},
                                   {"p99", h.quantile(0.99)},
                                   {"p999", h.quantile(0.999)}};
        }
        workloads[workload_names_[w]] = {
            {"kind", config::to_string(cfg_.workloads[w].kind)},
            {"weight", cfg_.workloads[w].weight},
            {"live", t.live},
            {"target", target},
            {"spawned", t.spawned},
            {"completed", {{"ok", t.completed[0]}, {"error", t.completed[1]}, {"cancelled", t.completed[2]}}},
            {"resumes", t.resumes},
            {"frame_bytes", t.frame_bytes},
            {"latency_seconds", latency},
        };
    }
    json body{
        {"version", COROSTORM_VERSION},
        {"state", draining_ ? "draining" : (ready_ ? "running" : "starting")},
        {"uptime_seconds",
         started_ns_ == 0 ? 0.0 : static_cast<double>(runtime::now_ns() - started_ns_) / 1e9},
        {"config",
         {{"threads", threads_},
          {"engine", config::to_string(cfg_.runtime.engine)},
          {"layout", config::to_string(cfg_.runtime.layout)},
          {"sample_every", cfg_.latency.sample_every},
          {"stages", cfg_.scenario.stages.size()},
          {"repeat", cfg_.scenario.repeat}}},
        {"stage", view.stage},
        {"tasks", {{"live", totals.live}, {"target", target_total}}},
        {"memory_per_task_bytes", memory_json(mem)},
        {"workloads", workloads},
    };
    return {200, "application/json", body.dump(2) + "\n"};
}

}  // namespace

int run(const config::config& cfg) {
    // Signals are handled by asio's signal_set; block them in every thread
    // created from here on so none of them is killed by the default action.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    try {
        app a(cfg);
        return a.run();
    } catch (const std::system_error& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}

}  // namespace corostorm::daemon
