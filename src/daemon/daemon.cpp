#include "daemon/daemon.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/system_error.hpp>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <semaphore>
#include <nlohmann/json.hpp>

#include "daemon/assembly.h"
#include "guard/memory_guard.h"
#include "daemon/logging.h"
#include "daemon/reload.h"
#include "daemon/signals.h"
#include "daemon/status.h"
#include "metrics/exporter.h"
#include "metrics/probes.h"
#include "metrics/process_collector.h"
#include "runtime/clock.h"
#include "runtime/run_loop.h"
#include "scenario/timeline.h"
#include "server/http_server.h"
#include "text/format.h"

namespace corostorm::daemon {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr auto progress_interval = 10s;
// Descriptors that must be free once everything has started: a few scrapers, the
// /proc and cgroup files read per scrape, a config read on reload.
constexpr std::uint64_t min_free_fds = 16;

constexpr std::uint64_t heartbeat_stale_ns = 5'000'000'000;

double unix_seconds_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class app {
public:
    app(const config::config& cfg, config_source source)
        : cfg_(cfg),
          source_(std::move(source)),
          timeline_(make_timeline(cfg, runtime::now_ns())),
          server_(cfg.server.host, cfg.server.port,
                  server::routes{
                      .metrics = [this] { return metrics_page(); },
                      .healthz = [this] { return health_page(); },
                      .readyz = [this] { return ready_page(); },
                      .status = [this] { return status_page(); },
                  }) {
        signals_.add(SIGUSR1);
        signals_.add(SIGUSR2);
        // The same limits the command line checked (no_room_problem) before anything started.
        memory_limit_ = guard::resolve_memory_limit(cfg.memory);
        // After the server has bound its port: a taken port fails before any task exists.
        parts_ = std::make_unique<assembly>(
            cfg, [this] { return scenario_now(); },
            memory_limit_.bounds_memory() ? std::optional(memory_limit_.limit_bytes) : std::nullopt,
            &reloads_);
        guard_ = guard::memory_guard::for_process(memory_limit_, parts_->rss_baseline(), parts_->pool());
    }

    int run() {
        reloads_.last_success_unix_seconds.store(unix_seconds_now(), std::memory_order_relaxed);
        start_drain_thread();
        spdlog::info("corostorm {} starting: {} worker thread(s), engine {}, layout {}, {} workload(s)",
                     COROSTORM_VERSION, parts_->threads(), config::to_string(cfg_.runtime.engine),
                     config::to_string(cfg_.runtime.layout), cfg_.workloads.size());
        if (const auto warning = oversubscribed_threads(cfg_, metrics::available_cpus()); !warning.empty()) {
            spdlog::warn("{}", warning);
        }
        server_.start();
        spdlog::info("serving /metrics /healthz /readyz /status on {}", server_.local_address());
        log_memory_guard();
        if (const auto& plan = parts_->fd_plan();
            plan.limits.soft < plan.open_at_start + plan.infrastructure + min_free_fds) {
            // Serving would fail at the first scrape or /proc read, or the workloads' own
            // connections would take the last descriptors: refuse now, by name.
            spdlog::error(
                "descriptors: the limit (ulimit -n) is {}; {} are open once the pool and server exist, the "
                "workloads' listeners and rpc connections take {} more, and at least {} must stay free to "
                "serve scrapes and read /proc; raise it (ulimit -Hn, docker --ulimit nofile=, LimitNOFILE=)",
                plan.limits.soft, plan.open_at_start, plan.infrastructure, min_free_fds);
            return 1;
        }
        log_descriptors();
        if (guard_) guard_->refresh(runtime::now_ns());  // ceilings before the first spawn
        parts_->pool().start();
        started_ns_ = runtime::now_ns();
        on_stage_timer();
        ready_.store(true, std::memory_order_release);  // release: pairs with ready_page()'s acquire
        schedule_progress();
        schedule_guard();

        wait_for_signal();
        // From here this thread takes the signals held since main (see signals.h); one
        // that came while the pool was built is acted on now.
        release_signals();
        runtime::run_surviving_out_of_memory(control_);
        return 0;  // a drain that ran out of time is logged; the tasks were destroyed either way
    }

private:
    // ---- control thread ----

    void on_stage_timer() {
        const std::uint64_t now = runtime::now_ns();
        if (timeline_.advance(now)) {
            {
                std::lock_guard lock(scenario_mu_);
                stage_name_ = timeline_.current().name;
                ramps_ = timeline_.ramps();
            }
            parts_->pool().set_targets(timeline_.ramps());
            {
                std::vector<std::uint64_t> targets;
                for (const auto& r : timeline_.ramps()) targets.push_back(r.to);
                check_descriptors(targets);
                if (!timeline_.finished()) warn_starved(targets);
            }
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

    void log_descriptors() const {
        const auto& plan = parts_->fd_plan();
        if (plan.limits.soft != plan.limits.before) {
            spdlog::info("descriptors: soft limit raised from {} to the hard limit {}", plan.limits.before,
                         plan.limits.soft);
        }
        if (plan.limits.soft < plan.open_at_start + plan.reserved) {
            // The server still answers (it evicts the longest-waiting connection at the limit),
            // but fewer scrapers and slow clients fit than the 256 it is built for.
            spdlog::warn(
                "descriptors: the limit (ulimit -n) is {} and {} are open: less than the {} kept aside for "
                "the HTTP server's connections and the files the daemon reads; raise it (ulimit -Hn, "
                "docker --ulimit nofile=, LimitNOFILE=)",
                plan.limits.soft, plan.open_at_start, plan.reserved);
        }
        if (std::none_of(cfg_.workloads.begin(), cfg_.workloads.end(),
                         [](const auto& w) { return w.kind == config::workload_kind::echo; })) {
            return;
        }
        spdlog::info("descriptors: limit {}, {} open, {} kept aside: echo may hold {} connection(s)",
                     plan.limits.soft, plan.open_at_start, plan.reserved, plan.max_connections());
    }

    // Called with each stage's targets: says when a workload's share holds no unit, once
    // per share (a stage that keeps the target does not repeat it).
    void warn_starved(const std::vector<std::uint64_t>& targets) {
        starved_warned_.resize(targets.size(), 0);
        for (std::size_t w = 0; w < targets.size(); ++w) {
            const unit_fit fit{targets[w], parts_->tasks_per_unit(w)};
            if (!fit.starved()) {
                starved_warned_[w] = 0;
            } else if (starved_warned_[w] != fit.share) {
                starved_warned_[w] = fit.share;
                spdlog::warn("{}", describe_starved(cfg_.workloads[w], w, timeline_.current().name, fit));
            }
        }
    }

    // Called with each stage's targets: says once per target when echo asks
    // for more connections than the descriptor budget holds.
    void check_descriptors(const std::vector<std::uint64_t>& targets) {
        const auto demand = guard::demand_of(cfg_, targets, parts_->fd_plan());
        std::lock_guard lock(scenario_mu_);
        fd_demand_ = demand;
        if (demand.capped() && demand.asked_connections != fd_warned_for_) {
            fd_warned_for_ = demand.asked_connections;
            spdlog::warn("descriptors: {}", guard::describe_cap(demand, parts_->fd_plan()));
        }
    }

    void log_memory_guard() const {
        if (!memory_limit_.active()) {
            spdlog::info("memory guard: off (memory.limit: none); spawning is limited by nothing");
            return;
        }
        if (memory_limit_.bounds_memory()) {
            log_memory_bound();
        } else {
            spdlog::info("memory guard: memory.limit none; spawning is limited by the address space only");
        }
        if (memory_limit_.address_space_bytes > 0) {
            spdlog::info("memory guard: address space limited (ulimit -v) to {}: spawning stops at {} mapped",
                         text::format_bytes(memory_limit_.address_space_bytes, text::byte_unit::mib_or_gib),
                         text::format_bytes(memory_limit_.address_space_threshold_bytes(),
                                            text::byte_unit::mib_or_gib));
        }
    }

    void log_memory_bound() const {
        const char* what = memory_limit_.source == guard::limit_source::cgroup    ? "the cgroup's limit"
                           : memory_limit_.source == guard::limit_source::machine ? "the machine's memory"
                                                                                  : "memory.limit";
        spdlog::info("memory guard: limit {} ({}), headroom {}: spawning stops at {} in use",
                     text::format_bytes(memory_limit_.limit_bytes, text::byte_unit::mib_or_gib), what,
                     text::format_bytes(memory_limit_.headroom_bytes, text::byte_unit::mib_or_gib),
                     text::format_bytes(memory_limit_.threshold_bytes(), text::byte_unit::mib_or_gib));
    }

    void schedule_guard() {
        if (!guard_) return;
        guard_timer_.expires_after(std::chrono::nanoseconds(guard::memory_guard::refresh_period_ns));
        guard_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;
            guard_->refresh(runtime::now_ns());
            schedule_guard();
        });
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
            const auto totals = parts_->totals();
            note_allocation_failures(totals.spawn_failures);
            const auto mem = parts_->memory_per_task(totals);
            const char* capped = guard_ && guard_->state().capped ? " (capped by the memory guard)" : "";
            if (mem) {
                spdlog::info("live {} / target {}{}; memory per task: {}heap {}, rss {}", totals.live,
                             scenario_total_now(), capped,
                             cfg_.runtime.engine == config::engine_kind::lean
                                 ? "frame " + text::format_bytes(mem->frame, text::byte_unit::byte) + ", "
                                 : std::string(),
                             text::format_bytes(mem->heap, text::byte_unit::byte),
                             text::format_bytes(mem->rss, text::byte_unit::byte));
            } else {
                spdlog::info("live 0 / target {}{}", scenario_total_now(), capped);
            }
            schedule_progress();
        });
    }

    // A spawn whose frame could not be allocated is counted (spawn_denied_total
    // {reason="allocation"}) on the worker; here it is told, once per episode: an episode
    // ends at a progress line without new failures.
    void note_allocation_failures(std::uint64_t failures) {
        if (failures > allocation_failures_seen_) {
            if (!allocation_failing_) {
                spdlog::warn(
                    "spawn: {} task frame(s) could not be allocated (no memory); spawning goes on trying. "
                    "{}",
                    failures - allocation_failures_seen_,
                    memory_limit_.active()
                        ? "The memory guard's headroom was not enough: raise memory.headroom"
                        : "memory.limit is none: the memory guard would hold spawning back "
                          "below the limit");
            }
            allocation_failing_ = true;
        } else if (allocation_failing_) {
            allocation_failing_ = false;
            spdlog::info("spawn: no allocation failed since the last report; {} in all", failures);
        }
        allocation_failures_seen_ = failures;
    }

    void wait_for_signal() {
        signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
            if (ec) return;
            if (signo == SIGHUP) {
                reload();
                wait_for_signal();
                return;
            }
            if (signo == SIGUSR1 || signo == SIGUSR2) {
                // Their default action would end the daemon; a stray one must not.
                spdlog::warn(
                    "received SIG{}: ignored (corostorm gives it no meaning; SIGHUP reloads, "
                    "SIGTERM drains)",
                    sigabbrev_np(signo));
                wait_for_signal();
                return;
            }
            on_signal(signo);
        });
    }

    // SIGHUP: the config source read again; what may change live changes.
    void reload() {
        if (source_.file.empty()) {
            spdlog::warn(
                "received SIGHUP: running on built-in defaults (no -c, no COROSTORM_CONFIG); "
                "nothing to reload");
            reloads_.failure.fetch_add(1, std::memory_order_relaxed);
            reloads_.last_successful.store(false, std::memory_order_relaxed);
            return;
        }
        config::config fresh;
        try {
            std::vector<config::override_entry> overrides;
            for (const auto& s : source_.overrides) overrides.push_back(config::parse_override(s));
            fresh = config::load_file(source_.file, overrides);
        } catch (const config::config_error& e) {
            // Messages about the text start with the file's name; those about a key do not.
            const std::string_view what = e.what();
            spdlog::error("reload failed, the running config stays: {}{}",
                          what.starts_with(shown_file_) ? "" : shown_file_ + ": ", what);
            reloads_.failure.fetch_add(1, std::memory_order_relaxed);
            reloads_.last_successful.store(false, std::memory_order_relaxed);
            return;
        }
        const reload_plan plan = plan_reload(cfg_, fresh);
        for (const auto& key : plan.restart_needed) {
            spdlog::warn("reload: {} needs a restart; the running value stays", key);
        }
        if (plan.sampling_changed) parts_->pool().set_sample_every(plan.effective.latency.sample_every);
        if (plan.params_changed) parts_->retune(plan.effective.workloads);
        {
            std::lock_guard lock(config_mu_);
            cfg_ = plan.effective;
            restart_needed_ = plan.restart_needed;
        }
        if (plan.scenario_changed) {
            // The new scenario starts from its first stage, ramping from the target in force.
            const std::uint64_t now = runtime::now_ns();
            timeline_ = make_timeline(cfg_, now, timeline_.total_target_at(now));
            stage_timer_.cancel();
            on_stage_timer();
        }
        if (plan.applied.empty()) {
            spdlog::info("reload: {} read again; nothing that applies live changed", shown_file_);
        } else {
            spdlog::info("reload: {} read again; applied: {}", shown_file_, fmt::join(plan.applied, "; "));
        }
        // Last, so that the line above is written at the level in force when the signal came.
        if (plan.log_level_changed) set_log_level(plan.effective.log.level);
        reloads_.success.fetch_add(1, std::memory_order_relaxed);
        reloads_.last_successful.store(true, std::memory_order_relaxed);
        reloads_.last_success_unix_seconds.store(unix_seconds_now(), std::memory_order_relaxed);
    }

    // A second SIGINT/SIGTERM while draining: the user wants out now.
    void wait_for_second_signal() {
        signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
            if (ec) return;
            if (signo == SIGHUP || signo == SIGUSR1 || signo == SIGUSR2) {
                wait_for_second_signal();
                return;
            }
            exit_on_second_signal();
        });
    }

    void on_signal(int signo) {
        spdlog::info("received {}; draining tasks (at most {} s)", strsignal(signo), drain_timeout.count());
        stage_timer_.cancel();
        progress_timer_.cancel();
        guard_timer_.cancel();
        draining_.store(true, std::memory_order_relaxed);  // relaxed: only reported in /status
        wait_for_second_signal();
        // The drain runs on a thread of its own, so this control thread stays
        // free to see a second signal.
        drain_wanted_ = true;
        drain_start_.release();
    }

    // Started with the daemon and parked until a signal: a thread started only then may
    // not get its stack (an address-space limit the tasks have filled), and the drain
    // must not depend on memory.
    void start_drain_thread() {
        drain_thread_ = std::thread([this] {
            drain_start_.acquire();
            if (!drain_wanted_) return;  // the daemon ends without a signal (a failed start)
            const auto t0 = std::chrono::steady_clock::now();
            const bool clean = parts_->pool().stop(drain_timeout);
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
                metrics::serialize({&parts_->exporter(), &http_metrics_, &process_})};
    }

    server::response health_page() const {
        if (draining_.load(std::memory_order_relaxed))
            return {200, "text/plain; charset=utf-8", "ok (draining)\n"};
        const std::uint64_t now = runtime::now_ns();
        const runtime::pool& pool = parts_->pool();
        for (unsigned i = 0; ready_.load(std::memory_order_acquire) && i < pool.size(); ++i) {
            const std::uint64_t beat = pool.at(i).shard().heartbeat_ns.read();
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
            // Up but unable to hold a single task (the memory in use is already past the
            // guard's threshold): not ready, so that a rollout does not count it as working.
            if (guard_ && guard_->state().capped && parts_->totals().live == 0) {
                return {503, "text/plain; charset=utf-8",
                        "memory guard: no room for a single task below the memory limit\n"};
            }
            return {200, "text/plain; charset=utf-8", "ready\n"};
        }
        return {503, "text/plain; charset=utf-8", draining_ ? "draining\n" : "starting\n"};
    }

    server::response status_page() const;

    // Written by the control thread (reload), read by it freely and by the
    // server thread under config_mu_.
    config::config cfg_;
    const config_source source_;
    const std::string shown_file_ = config::shown_path(source_.file);  // for logs
    mutable std::mutex config_mu_;
    std::vector<std::string> restart_needed_;  // from the last reload, guarded by config_mu_
    metrics::reload_counts reloads_;           // before parts_: its exporter reads it
    guard::memory_limit memory_limit_;
    // Built in the constructor's body, after the server; destroyed after it.
    std::unique_ptr<assembly> parts_;
    std::unique_ptr<guard::memory_guard> guard_;  // null with memory.limit: none
    scenario::timeline timeline_;

    mutable std::mutex scenario_mu_;  // guards the fields below (control thread writes, server reads)
    std::string stage_name_;
    std::vector<runtime::target_ramp> ramps_;
    guard::fd_demand fd_demand_;       // what the current stage asks of the descriptor budget
    std::uint64_t fd_warned_for_ = 0;  // the asked connections last warned about

    metrics::process_collector process_;
    // Reads server_ at scrape time, on the server's own thread.
    metrics::http_exporter http_metrics_{[this] {
        metrics::http_totals t;
        for (const auto& r : server_.request_counts())
            t.answered.push_back({std::string(r.path), r.code, r.count});
        t.connections_open = server_.active_connections();
        t.connections_evicted = server_.evicted_connections();
        t.internal_errors = server_.internal_errors();
        return t;
    }};
    std::uint64_t started_ns_ = 0;
    std::atomic<bool> ready_{false};
    std::atomic<bool> draining_{false};

    asio::io_context control_{1};
    asio::signal_set signals_{control_, SIGINT, SIGTERM, SIGHUP};
    asio::steady_timer stage_timer_{control_};
    asio::steady_timer progress_timer_{control_};
    asio::steady_timer guard_timer_{control_};
    std::vector<std::uint64_t> starved_warned_;   // control thread: per workload, the share last warned of
    std::uint64_t allocation_failures_seen_ = 0;  // control thread
    bool allocation_failing_ = false;
    std::binary_semaphore drain_start_{0};
    bool drain_wanted_ = false;  // written before drain_start_ is released, read after it is acquired
    std::thread drain_thread_;
    server::http_server server_;

public:
    ~app() {
        if (drain_thread_.joinable()) {
            if (!drain_wanted_) drain_start_.release();  // no signal came: let it end
            drain_thread_.join();
        }
        server_.stop();
    }
};

// /status (daemon/status.h builds the body): the config and the scenario copied under
// their locks, the rest read lock-free.
server::response app::status_page() const {
    config::config cfg;
    std::vector<std::string> restart_needed;
    {
        std::lock_guard lock(config_mu_);
        cfg = cfg_;
        restart_needed = restart_needed_;
    }
    guard::fd_demand fd_demand;
    {
        std::lock_guard lock(scenario_mu_);
        fd_demand = fd_demand_;
    }
    const auto view = scenario_now();
    const nlohmann::json body = status_json({
        .cfg = cfg,
        .file = source_.file,
        .restart_needed = restart_needed,
        .parts = *parts_,
        .view = view,
        .reloads = reloads_,
        .memory_limit = memory_limit_,
        .guard = guard_.get(),
        .fd_demand = fd_demand,
        .state = draining_ ? "draining" : (ready_ ? "running" : "starting"),
        .uptime_seconds = started_ns_ == 0 ? 0.0 : static_cast<double>(runtime::now_ns() - started_ns_) / 1e9,
    });
    return {200, "application/json", body.dump(2) + "\n"};
}

// What a start that failed for want of a resource ran into, for the error line: the
// limit by name, so that "Too many open files" inside Asio's reactor or "Resource
// temporarily unavailable" from std::thread say what to raise.
std::string start_failure_hint(int error) {
    const auto limit_text = [](int resource) {
        rlimit limit{};
        if (::getrlimit(resource, &limit) != 0) return std::string("unknown");
        return limit.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : std::to_string(limit.rlim_cur);
    };
    if (error == EMFILE || error == ENFILE) {
        return fmt::format(
            " (out of descriptors while starting: the limit, ulimit -n, is {}; each worker thread needs 3 "
            "and the HTTP server wants up to 256 more; raise it: ulimit -Hn, docker --ulimit nofile=, "
            "LimitNOFILE=)",
            limit_text(RLIMIT_NOFILE));
    }
    if (error == EAGAIN) {
        return fmt::format(
            " (a thread could not be started: the address space limit, ulimit -v, is {} bytes and the "
            "processes limit, ulimit -u, is {}; raise them or give fewer runtime.threads)",
            limit_text(RLIMIT_AS), limit_text(RLIMIT_NPROC));
    }
    return {};
}

}  // namespace

int run(const config::config& cfg, config_source source) {
    // Signals: held since main, taken by the control thread from app::run on (signals.h).
    try {
        app a(cfg, std::move(source));
        return a.run();
    } catch (const std::system_error& e) {
        spdlog::error("{}{}", e.what(), start_failure_hint(e.code().value()));
        return 1;
    } catch (const boost::system::system_error& e) {  // Asio's: not a std::system_error in Boost 1.81
        spdlog::error("{}{}", e.what(), start_failure_hint(e.code().value()));
        return 1;
    }
}

}  // namespace corostorm::daemon
