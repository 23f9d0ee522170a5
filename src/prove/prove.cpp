#include "prove/prove.h"

#include <signal.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "daemon/assembly.h"
#include "prove/meter.h"
#include "prove/peer.h"
#include "prove/prove_report.h"
#include "daemon/signals.h"
#include "guard/memory_guard.h"
#include "metrics/exporter_inputs.h"
#include "metrics/probes.h"
#include "runtime/clock.h"
#include "text/format.h"

namespace corostorm::prove {

using daemon::assembly;
using daemon::drain_timeout;
using daemon::exit_on_second_signal;
using daemon::is_io_workload;
using daemon::make_timeline;
using daemon::release_signals;

using text::group_digits;

namespace {

using namespace std::chrono_literals;

// While spawning the shards are summed every millisecond (a few microseconds
// of the control thread each time), so the time to reach the target has a
// resolution of 1 ms; while measuring there is nothing to watch but the clock.
constexpr auto spawn_poll_interval = 1ms;
constexpr auto measure_poll_interval = 10ms;
// Spawn failures with no progress for this long: the machine is out of memory.
constexpr std::uint64_t stall_ns = 1'000'000'000;

std::uint64_t to_ns(config::duration d) { return static_cast<std::uint64_t>(d.count()); }
double seconds(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }

// The high-water mark of resident memory (VmHWM in /proc/self/status), 0 when unknown.
std::uint64_t peak_resident_bytes() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) != 0) continue;
        std::istringstream fields(line.substr(6));
        std::uint64_t kib = 0;
        fields >> kib;
        return kib * 1024;
    }
    return 0;
}

// ---- signals: the first SIGINT/SIGTERM ends the run early, a second one exits ----

volatile std::sig_atomic_t stop_signal = 0;

extern "C" void on_stop_signal(int signo) {
    if (stop_signal != 0) exit_on_second_signal(true);  // prove may be redrawing its progress line
    stop_signal = signo;
}

void install_signal_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    // As in run: a stray one must not end the proof.
    std::signal(SIGUSR1, SIG_IGN);
    std::signal(SIGUSR2, SIG_IGN);
    // Held since main (signals.h): one sent while the config was read lands now.
    release_signals();
}

// ---- the run ----

class prover {
public:
    prover(const config::config& cfg, const prove_options& options)
        : cfg_(cfg),
          options_(options),
          counts_spawned_(cfg.workloads.front().kind == config::workload_kind::spawn_tree),
          limit_(guard::resolve_memory_limit(cfg.memory)),
          parts_(
              cfg,
              [this] {
                  return metrics::scenario_view{"prove", {options_.tasks}};
              },
              limit_.bounds_memory() ? std::optional(limit_.limit_bytes) : std::nullopt),
          guard_(guard::memory_guard::for_process(limit_, parts_.rss_baseline(), parts_.pool())) {}

    // Phases 1 to 3; the report (not yet printed) is valid until the prover goes.
    prove_report& run() {
        report_.target = options_.tasks;
        report_.counts_spawned = counts_spawned_;
        report_.workload = std::string(config::to_string(cfg_.workloads.front().kind));
        report_.engine = std::string(config::to_string(cfg_.runtime.engine));
        report_.layout = std::string(config::to_string(cfg_.runtime.layout));
        report_.threads = parts_.threads();
        report_.frame_exact = parts_.frame_bytes_exact();
        report_.machine = machine_facts::probe();

        refresh_guard(runtime::now_ns());  // ceilings before the first spawn
        parts_.pool().start();
        start_ns_ = runtime::now_ns();
        deadline_ns_ = start_ns_ + to_ns(options_.duration);
        meter_.begin(start_ns_);
        auto timeline = make_timeline(cfg_, start_ns_);
        timeline.advance(start_ns_);
        parts_.pool().set_targets(timeline.ramps());

        const bool reached = spawn();
        metrics::runtime_totals end = parts_.totals();
        if (reached) end = measure();
        report_.live_tasks = end.live;
        report_.memory = parts_.memory_per_task(end);
        report_.cpu_seconds = metrics::read_process_stats().cpu_seconds;
        report_.peak_resident_bytes = peak_resident_bytes();
        drain(end.live);
        return report_;
    }

private:
    // What the target counts: tasks alive, or for spawn_tree (whose trees are
    // never alive all at once) tasks spawned.
    std::uint64_t progress_of(const metrics::runtime_totals& t) const {
        return counts_spawned_ ? t.workloads.front().spawned : t.live;
    }

    static std::string signal_name() { return stop_signal == SIGINT ? "SIGINT" : "SIGTERM"; }

    // Phase 1. Returns true when the target was reached.
    bool spawn() {
        std::uint64_t last_ns = start_ns_;
        std::uint64_t last_spawned = 0;
        std::uint64_t last_progress = 0;
        std::uint64_t progress_at_ns = start_ns_;  // when the progress count last grew
        for (;;) {
            const std::uint64_t now = runtime::now_ns();
            const metrics::runtime_totals t = parts_.totals();
            const std::uint64_t progress = progress_of(t);
            const std::uint64_t spawned = t.workloads.front().spawned;
            const double elapsed = seconds(now - start_ns_);
            report_.tasks = std::min(progress, options_.tasks);
            if (progress > last_progress) progress_at_ns = now;
            if (progress >= options_.tasks) {
                report_.reached = true;
                report_.tasks = progress;
                report_.time_to_target_seconds = elapsed;
                report_.spawn_rate_per_second = static_cast<double>(spawned) / std::max(elapsed, 1e-9);
                reached_ns_ = now;
                return true;
            }
            const auto stop = [&](std::string reason) {
                report_.reason = std::move(reason);
                report_.spawn_rate_per_second = static_cast<double>(spawned) / std::max(elapsed, 1e-9);
                meter_.note(now, "stopped: " + *report_.reason);
                return false;
            };
            if (now >= deadline_ns_) {
                return stop(fmt::format("time limit: reached {} of {} tasks in {:g} s",
                                        group_digits(progress), group_digits(options_.tasks),
                                        seconds(to_ns(options_.duration))));
            }
            if (guard_ && guard_->state().capped && now >= progress_at_ns + stall_ns) {
                const auto state = guard_->state();
                const std::string bound = guard_->describe_bound(state);
                // Frames may have failed before the guard held (a spawn burst between two of its
                // 10 ms refreshes): the guard is the reason, and they are told beside it.
                const std::string failed =
                    t.spawn_failures == 0 ? std::string()
                                          : fmt::format("; {} spawn(s) found no memory for a frame first",
                                                        group_digits(t.spawn_failures));
                return stop(fmt::format(
                    "memory limit: the memory guard held spawning back for {:.1f} s at {}; reached {} of {} "
                    "tasks in {:.1f} s{} ({})",
                    seconds(now - progress_at_ns), bound, group_digits(progress),
                    group_digits(options_.tasks), elapsed, failed,
                    state.address_space_binds ? "raise ulimit -v for more" : "memory.limit: none lifts it"));
            }
            if (t.spawn_failures > 0 && now >= progress_at_ns + stall_ns) {
                return stop(fmt::format(
                    "allocation failed: {} spawn(s) could not get memory for a frame and no task was added "
                    "for {:.1f} s; reached {} of {} tasks in {:.1f} s",
                    group_digits(t.spawn_failures), seconds(now - progress_at_ns), group_digits(progress),
                    group_digits(options_.tasks), elapsed));
            }
            if (stop_signal != 0) {
                return stop(fmt::format("interrupted by {}: reached {} of {} tasks in {:.1f} s",
                                        signal_name(), group_digits(progress), group_digits(options_.tasks),
                                        elapsed));
            }
            if (meter_.due(now)) {
                const double interval = seconds(now - last_ns);
                const double spawn_rate = static_cast<double>(spawned - last_spawned) / interval;
                // As a difference of doubles: tasks that end (rounds) can make progress go down.
                const double progress_rate =
                    (static_cast<double>(progress) - static_cast<double>(last_progress_shown_)) / interval;
                meter_.show(now, progress_line(t, progress, spawn_rate, progress_rate, elapsed));
                last_ns = now;
                last_spawned = spawned;
                last_progress_shown_ = progress;
            }
            last_progress = progress;
            refresh_guard(now);
            std::this_thread::sleep_for(spawn_poll_interval);
        }
    }

    std::string progress_line(const metrics::runtime_totals& t, std::uint64_t progress, double spawn_rate,
                              double progress_rate, double elapsed) const {
        std::string rss = "-";
        if (t.live > 0) {
            const std::uint64_t resident = metrics::resident_bytes();
            const std::uint64_t growth =
                resident > parts_.rss_baseline() ? resident - parts_.rss_baseline() : 0;
            rss = fmt::format("{:.1f} B", static_cast<double>(growth) / static_cast<double>(t.live));
        }
        std::string eta = "-";
        if (progress_rate > 0) {
            eta = fmt::format("{:.1f} s", static_cast<double>(options_.tasks - progress) / progress_rate);
        }
        return fmt::format("{} {} / {}  spawn rate {}/s  rss/task {}  elapsed {:.1f} s  ETA {}",
                           counts_spawned_ ? "spawned" : "tasks", group_digits(progress),
                           group_digits(options_.tasks), group_digits(static_cast<std::uint64_t>(spawn_rate)),
                           rss, elapsed, eta);
    }

    // Phase 2: resumes and latency over min(5 s, time left) after reaching the
    // target; returns the totals at the end of the window.
    metrics::runtime_totals measure() {
        const std::uint64_t window_end =
            std::min(reached_ns_ + to_ns(prove_measure_window), std::max(deadline_ns_, reached_ns_));
        if (window_end == reached_ns_) {
            // Reached at the time limit: nothing is left to measure with.
            report_.measure_seconds = 0.0;
            return parts_.totals();
        }
        meter_.note(reached_ns_,
                    fmt::format("reached {} {} in {:.3f} s; measuring for {:.1f} s",
                                group_digits(report_.tasks), counts_spawned_ ? "tasks spawned" : "tasks",
                                *report_.time_to_target_seconds, seconds(window_end - reached_ns_)));
        const metrics::runtime_totals before = parts_.totals();
        const double cpu_before = metrics::read_process_stats().cpu_seconds;
        const std::uint64_t before_ns = runtime::now_ns();
        std::uint64_t now = before_ns;
        while (now < window_end && stop_signal == 0) {
            if (meter_.due(now)) {
                meter_.show(now, fmt::format("measuring: {:.1f} s of {:.1f} s", seconds(now - before_ns),
                                             seconds(window_end - before_ns)));
            }
            std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(
                measure_poll_interval, std::chrono::nanoseconds(window_end - now)));
            now = runtime::now_ns();
            refresh_guard(now);
        }
        const metrics::runtime_totals after = parts_.totals();
        const double cpu_after = metrics::read_process_stats().cpu_seconds;
        const std::uint64_t after_ns = runtime::now_ns();
        if (stop_signal != 0) {
            report_.reason = fmt::format("interrupted by {} while measuring, after {:.1f} s", signal_name(),
                                         seconds(after_ns - before_ns));
            meter_.note(after_ns, "stopped: " + *report_.reason);
        }

        const double window = seconds(after_ns - before_ns);
        report_.measure_seconds = window;
        const auto& a = after.workloads.front();
        const auto& b = before.workloads.front();
        const std::uint64_t resumes = a.resumes - b.resumes;
        if (window > 0) report_.resumes_per_second = static_cast<double>(resumes) / window;
        // Process CPU time (all threads, this control thread's polling included) per resume.
        report_.measure_cpu_seconds = std::max(cpu_after - cpu_before, 0.0);
        if (resumes > 0)
            report_.cpu_ns_per_resume = *report_.measure_cpu_seconds * 1e9 / static_cast<double>(resumes);
        if (cfg_.workloads.front().kind == config::workload_kind::spawn_tree) {
            // Every node of a tree but its root finishes once per tree.
            const auto finished = [](const metrics::runtime_totals::per_workload& w) {
                return w.completed[0] + w.completed[1] + w.completed[2];
            };
            const std::uint64_t nodes = finished(a) - finished(b);
            const std::uint64_t per_tree = parts_.tasks_per_unit(0) - 1;
            if (nodes > 0 && per_tree > 0) {
                report_.seconds_per_tree =
                    window * static_cast<double>(per_tree) / static_cast<double>(nodes);
            }
        }
        for (const metrics::latency_source src : metrics::all_latency_sources) {
            const auto s = static_cast<std::size_t>(src);
            if (auto l =
                    summarize(std::string(metrics::to_string(src)), difference(a.latency[s], b.latency[s]))) {
                report_.latency.push_back(std::move(*l));
            }
        }
        if (is_io_workload(cfg_.workloads.front().kind)) {
            report_.connections = a.connections;
            const auto round_trips = difference(a.round_trip, b.round_trip);
            report_.io_round_trip = summarize("io_round_trip", round_trips);
            if (window > 0)
                report_.round_trips_per_second = static_cast<double>(a.round_trips - b.round_trips) / window;
        }
        return after;
    }

    // Phase 3.
    void drain(std::uint64_t live) {
        const std::uint64_t t0 = runtime::now_ns();
        meter_.show(t0, fmt::format("draining {} task{}", group_digits(live), live == 1 ? "" : "s"));
        const bool clean = parts_.pool().stop(drain_timeout);
        const std::uint64_t t1 = runtime::now_ns();
        meter_.note(t1, fmt::format("drained in {:.2f} s", seconds(t1 - t0)));
        meter_.finish();
        if (!clean) {
            spdlog::warn("drain did not finish within {} s; remaining tasks were destroyed",
                         drain_timeout.count());
        }
    }

    const config::config& cfg_;
    const prove_options& options_;
    const bool counts_spawned_;
    progress_meter meter_;
    prove_report report_;
    std::uint64_t start_ns_ = 0;
    std::uint64_t deadline_ns_ = 0;
    std::uint64_t reached_ns_ = 0;
    std::uint64_t last_progress_shown_ = 0;
    const guard::memory_limit limit_;
    assembly parts_;  // built after the report's fields, destroyed (pool first) before them
    // As in run: spawning held below the memory limit (null with memory.limit: none).
    std::unique_ptr<guard::memory_guard> guard_;
    std::uint64_t guard_refreshed_ns_ = 0;

    void refresh_guard(std::uint64_t now) {
        if (guard_ && now >= guard_refreshed_ns_ + guard::memory_guard::refresh_period_ns) {
            guard_->refresh(now);
            guard_refreshed_ns_ = now;
        }
    }
};

// After corostorm's own run, its pool and frames gone: the Go peer with the
// same tasks, workload, threads and time limit, in a process of its own.
go_side run_peer(const go_peer& peer, const config::config& cfg, const prove_options& options,
                 unsigned threads) {
    go_side side;
    const std::vector<std::string> args =
        go_peer_prove_args(cfg.workloads.front(), options.tasks, threads, options.duration);
    std::string command = peer.binary;
    for (std::size_t i = 1; i < args.size(); ++i) command += " " + args[i];
    std::fprintf(stderr, "running the Go peer: %s\n", command.c_str());
    try {
        const peer_result r = run_go_peer(peer, args);
        side.exit_code = r.exit_code;
        side.json = nlohmann::json::parse(r.output);
        side.report = std::make_shared<const prove_report>(report_from_json(side.json));
        if (side.report->reason) side.error = "did not complete: " + *side.report->reason;
    } catch (const nlohmann::json::exception& e) {
        side.report.reset();
        side.json = nullptr;
        side.error =
            fmt::format("the Go peer printed no report (exit code {}): {}", side.exit_code, e.what());
    } catch (const std::exception& e) {
        side.error = e.what();
        side.exit_code = 1;
    }
    if (!side.error.empty()) std::fprintf(stderr, "go: %s\n", side.error.c_str());
    std::fflush(stderr);
    return side;
}

}  // namespace

int prove(const config::config& cfg, const prove_options& options, const go_peer* peer) {
    install_signal_handlers();
    if (peer != nullptr && !peer->go.empty()) {
        // Before the proof: a failed build must not cost a whole run.
        std::fprintf(stderr, "building the Go peer into %s\n", peer->binary.c_str());
        try {
            build_go_peer(*peer);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "corostorm prove: %s\n", e.what());
            return 1;
        }
    }
    prove_report report;
    {
        prover p(cfg, options);
        report = std::move(p.run());
    }  // the pool, its threads and every frame are gone before the peer starts
    int code = report.reached && !report.reason ? 0 : 1;
    if (peer != nullptr) {
        if (stop_signal == 0) {
            report.go = run_peer(*peer, cfg, options, report.threads);
        } else {
            go_side not_run;
            not_run.error = "not run: the proof was interrupted";
            report.go = std::move(not_run);
        }
        if (report.go->exit_code != 0 || !report.go->error.empty()) code = 1;
    }
    if (options.json) {
        std::cout << to_json(report).dump(2) << "\n";
    } else {
        std::cout << to_table(report);
    }
    std::cout.flush();
    return std::cout ? code : 1;
}

}  // namespace corostorm::prove
