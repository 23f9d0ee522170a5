// Benchmark: the two engines side by side. Prints one table, a column per
// engine (lean: corostorm's own tasks; asio: co_spawn + awaitable), a row per
// figure, and the ratio asio/lean:
//   - bytes per task at N sleepers (period 1 s, 1 thread): RSS growth, heap
//     growth, and exact frame bytes (lean only: asio allocates its own frames);
//   - spawn rate (from set_targets until all N are live) in that same run,
//     and again with a 10 s period, where fewer wake-ups compete with spawning;
//   - cost of a yield with 1000 yielding tasks on 1 and 2 threads: worker
//     thread CPU time per resume, and resumes per second of wall time;
//   - what measuring costs: ns per yield on 1 thread with the latency of
//     every resume recorded and of 1 in a million, and the difference;
//   - ring hand-off latency (100 rings of 100 tasks, 1 thread), p50 and p99,
//     and hand-offs per second;
//   - skynet (spawn_tree fanout 10, depth 6: 1,111,111 tasks, 1 thread):
//     seconds per tree, and the peak RSS of the process that ran it.
//
// Every figure comes from a fresh process: the benchmark re-executes itself
// (`/proc/self/exe --row bytes --engine asio`), the child runs one
// measurement in one fresh runtime::pool and prints one `result` line of
// key=value pairs, and the parent assembles the table. Memory figures need
// this: freed-but-retained memory of an earlier run would hide the growth of a
// later one. Each child is killed if it outlives its time limit; the table
// then says `failed` and a note says why.
//
//   build/release/bench/bench_engines [--quick] [--rows bytes,spawn,yield,record,ring,skynet]
//                                     [--repeat N] [--sample-every N]
//
// --quick: 100k sleepers, 0.5 s windows, a depth-5 tree, one run of each
// (a smoke run, well under a minute). Otherwise every child runs 3 times
// (--repeat) and the table shows medians, except a child whose first run took
// over a minute (asio with 1M sleepers of period 1 s), which runs once.
// --sample-every N: record the latency of 1 in N resumes (default 1, as the
// daemon's latency.sample_every); the recording is part of every resume's cost.
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "metrics/probes.h"
#include "metrics/recorder.h"
#include "runtime/clock.h"
#include "runtime/pool.h"
#include "text/format.h"
#include "workloads/ring.h"
#include "workloads/sleep.h"
#include "workloads/spawn_tree.h"
#include "workloads/yield.h"

extern char** environ;

namespace {

using namespace corostorm;
using std::chrono::microseconds;
using std::chrono::milliseconds;

// ---------------------------------------------------------------------------
// Sizes of every measurement, full and --quick.

struct sizes {
    std::uint64_t sleepers;
    std::uint64_t yield_tasks;
    std::uint64_t rings;
    std::uint64_t ring_size;
    double window_s;  // yield and ring measuring window, after all tasks are live
    workloads::spawn_tree_options tree;
    std::uint64_t trees;             // trees timed after the first (cold) one, at least ...
    double trees_span_s;             // ... and for this long at least, so polling jitter averages out
    double tree_deadline_s;          // stop timing trees after this, with whatever completed
    double child_timeout_s;          // the parent kills a child that runs longer
    std::uint64_t sample_every = 1;  // worker_options::sample_every; 1 = the daemon's default
};

sizes sizes_for(bool quick) {
    if (quick) return {100'000, 1000, 100, 100, 0.5, {.fanout = 10, .depth = 5}, 3, 0.25, 20.0, 45.0};
    return {1'000'000, 1000, 100, 100, 2.0, {.fanout = 10, .depth = 6}, 3, 1.0, 60.0, 300.0};
}

std::string count_label(std::uint64_t n) {
    char buf[32];
    if (n >= 1'000'000 && n % 1'000'000 == 0) {
        std::snprintf(buf, sizeof buf, "%lluM", static_cast<unsigned long long>(n / 1'000'000));
    } else if (n >= 1000 && n % 1000 == 0) {
        std::snprintf(buf, sizeof buf, "%lluk", static_cast<unsigned long long>(n / 1000));
    } else {
        std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
    }
    return buf;
}

double seconds_since(std::uint64_t start_ns) {
    return static_cast<double>(runtime::now_ns() - start_ns) / 1e9;
}

// The middle value (the mean of the two middle ones for an even count); v is not empty.
double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Polls `done` every `step` until it holds (true) or `timeout_s` passes (false).
template <class Predicate>
bool wait_until(Predicate done, double timeout_s, microseconds step) {
    const std::uint64_t start = runtime::now_ns();
    while (!done()) {
        if (seconds_since(start) > timeout_s) return false;
        std::this_thread::sleep_for(step);
    }
    return true;
}

// ---------------------------------------------------------------------------
// Child side: one measurement, one fresh pool, one result line.

// The line a child prints: `result key=value ...`, values without spaces,
// except `note=` which comes last and takes the rest of the line.
class result_line {
public:
    void add(std::string_view key, double value) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.9g", value);
        add(key, std::string(buf));
    }
    void add(std::string_view key, const std::string& value) {
        text_ += ' ';
        text_ += key;
        text_ += '=';
        text_ += value;
    }
    void fail(const std::string& why) {
        failed_ = true;
        if (!note_.empty()) note_ += "; ";
        note_ += why;
    }
    void note(const std::string& what) {
        if (!note_.empty()) note_ += "; ";
        note_ += what;
    }
    void print() const {
        std::printf("result status=%s%s%s%s\n", failed_ ? "failed" : "ok", text_.c_str(),
                    note_.empty() ? "" : " note=", note_.c_str());
        std::fflush(stdout);
    }

private:
    std::string text_;
    std::string note_;
    bool failed_ = false;
};

template <class Lean, class Asio, class Options>
std::unique_ptr<runtime::task_factory> make_factory(bool asio, Options options) {
    if (asio) return std::make_unique<Asio>(options);
    return std::make_unique<Lean>(options);
}

// Readers of the pool's metric shards, summed over workers (workload 0 is the only one).
template <class Read>
std::uint64_t sum_over_workers(const runtime::pool& p, Read read) {
    std::uint64_t n = 0;
    for (unsigned i = 0; i < p.size(); ++i) n += read(p.at(i).shard());
    return n;
}
std::uint64_t live(const runtime::pool& p) {
    return sum_over_workers(p, [](const metrics::worker_shard& s) { return s.workload(0).live(); });
}
std::uint64_t spawned(const runtime::pool& p) {
    return sum_over_workers(p, [](const metrics::worker_shard& s) { return s.workload(0).spawned.read(); });
}
std::uint64_t resumes(const runtime::pool& p) {
    return sum_over_workers(p, [](const metrics::worker_shard& s) { return s.workload(0).resumes.read(); });
}
std::uint64_t errors(const runtime::pool& p) {
    constexpr auto error = static_cast<std::size_t>(metrics::task_outcome::error);
    return sum_over_workers(
        p, [](const metrics::worker_shard& s) { return s.workload(0).completed[error].read(); });
}
std::uint64_t spawn_failures(const runtime::pool& p) {
    return sum_over_workers(p, [](const metrics::worker_shard& s) { return s.spawn_failures.read(); });
}
std::uint64_t busy_ns(const runtime::pool& p) {
    return sum_over_workers(p, [](const metrics::worker_shard& s) { return s.busy_ns.read(); });
}
metrics::latency_snapshot latency(const runtime::pool& p, metrics::latency_source source) {
    metrics::latency_snapshot s;
    for (unsigned i = 0; i < p.size(); ++i) {
        s.add(p.at(i).shard().workload(0).latency[static_cast<std::size_t>(source)]);
    }
    return s;
}

double peak_rss_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB
}

// Stops the pool within `timeout_s`, says so in the result and prints it:
// before the pool is destroyed, so a teardown that goes wrong cannot take
// the measurement with it.
void stop_and_report(runtime::pool& p, double timeout_s, result_line& out) {
    const std::uint64_t start = runtime::now_ns();
    const bool drained = p.stop(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(timeout_s)));
    out.add("drained", drained ? 1.0 : 0.0);
    out.add("stop_s", seconds_since(start));
    if (!drained) out.note("workers did not drain within the stop timeout and were aborted");
    if (const auto failures = spawn_failures(p)) out.note(std::to_string(failures) + " spawn failures");
    if (const auto failed = errors(p)) out.fail(std::to_string(failed) + " tasks ended with an error");
    out.print();
}

// Rows 1 and 2: N sleepers on 1 thread. RSS and heap are read right before
// set_targets and as soon as every task is live, like bench_sleepers; so is
// the spawn time. Sleepers wake once a period from a random phase, so with a
// 1 s period the first ones wake while the rest are still being spawned: an
// engine that cannot keep up with N wake-ups a second spawns behind them.
// A 10 s period shows the cost of spawning itself (a tenth of the wake-ups),
// and still lets every sleeper see the stop within one period.
void measure_sleepers(bool asio, std::uint64_t period_ns, const sizes& s, result_line& out) {
    auto factory = make_factory<workloads::sleep_workload, workloads::asio_sleep_workload>(
        asio, workloads::sleep_options{.period_ns = period_ns, .rounds = 0});
    runtime::pool pool(1, {factory.get()}, runtime::worker_options{.sample_every = s.sample_every});
    pool.start();
    std::this_thread::sleep_for(milliseconds(50));

    const std::uint64_t rss_before = metrics::resident_bytes();
    const std::uint64_t heap_before = metrics::heap_in_use_bytes();
    const std::uint64_t t0 = runtime::now_ns();
    pool.set_targets({runtime::target_ramp{0, s.sleepers, t0, 0}});
    const bool all_live =
        wait_until([&] { return live(pool) >= s.sleepers; }, s.child_timeout_s / 2, microseconds(200));
    const double spawn_s = seconds_since(t0);
    const std::uint64_t rss_after = metrics::resident_bytes();
    const std::uint64_t heap_after = metrics::heap_in_use_bytes();
    const std::uint64_t frames = pool.at(0).frame_live_bytes();

    const auto n = static_cast<double>(s.sleepers);
    out.add("tasks", n);
    out.add("period_s", static_cast<double>(period_ns) / 1e9);
    if (!all_live) {
        out.fail(std::to_string(live(pool)) + " of " + std::to_string(s.sleepers) + " sleepers live after " +
                 std::to_string(spawn_s) + " s");
    } else {
        out.add("rss_per_task", (static_cast<double>(rss_after) - static_cast<double>(rss_before)) / n);
        out.add("heap_per_task", (static_cast<double>(heap_after) - static_cast<double>(heap_before)) / n);
        if (!asio) out.add("frame_per_task", static_cast<double>(frames) / n);
        out.add("spawn_s", spawn_s);
        out.add("spawn_per_s", n / spawn_s);
    }
    stop_and_report(pool, 60.0, out);
}

// Row 3: `tasks` yielders on `threads` workers; over a window that starts
// once all are live: ns per yield = worker thread CPU time / resumes, and
// resumes per second of wall time. busy_ns is published every control tick
// (5 ms), so each end of the window is off by at most one tick of CPU time
// (under 0.5% of a 2 s window).
void measure_yield(bool asio, unsigned threads, const sizes& s, result_line& out) {
    auto factory = make_factory<workloads::yield_workload, workloads::asio_yield_workload>(
        asio, workloads::yield_options{.rounds = 0, .work_ns = 0});
    runtime::pool pool(threads, {factory.get()}, runtime::worker_options{.sample_every = s.sample_every});
    pool.start();
    pool.set_targets({runtime::target_ramp{0, s.yield_tasks, runtime::now_ns(), 0}});
    out.add("tasks", static_cast<double>(s.yield_tasks));
    out.add("threads", threads);
    if (!wait_until([&] { return live(pool) >= s.yield_tasks; }, 30.0, microseconds(500))) {
        out.fail("only " + std::to_string(live(pool)) + " yielders live after 30 s");
    } else {
        std::this_thread::sleep_for(milliseconds(100));  // let every worker settle into its loop
        const std::uint64_t busy0 = busy_ns(pool);
        const std::uint64_t resumes0 = resumes(pool);
        const std::uint64_t t0 = runtime::now_ns();
        std::this_thread::sleep_for(std::chrono::duration<double>(s.window_s));
        const std::uint64_t busy1 = busy_ns(pool);
        const std::uint64_t resumes1 = resumes(pool);
        const double wall_s = seconds_since(t0);
        const auto yields = static_cast<double>(resumes1 - resumes0);
        const auto cpu_ns = static_cast<double>(busy1 - busy0);
        out.add("window_s", wall_s);
        out.add("yields", yields);
        if (yields == 0) {
            out.fail("no yields in the window");
        } else {
            out.add("ns_per_yield", cpu_ns / yields);
            out.add("yields_per_s", yields / wall_s);
            out.add("busy_share", cpu_ns / (wall_s * 1e9 * threads));
        }
    }
    stop_and_report(pool, 30.0, out);
}

// Row 4: rings on 1 thread; hand-off latency (source=ready) recorded during
// the window only, and hand-offs per second.
void measure_ring(bool asio, const sizes& s, result_line& out) {
    auto factory = make_factory<workloads::ring_workload, workloads::asio_ring_workload>(
        asio, workloads::ring_options{.ring_size = s.ring_size});
    const std::uint64_t tasks = s.rings * s.ring_size;
    runtime::pool pool(1, {factory.get()}, runtime::worker_options{.sample_every = s.sample_every});
    pool.start();
    pool.set_targets({runtime::target_ramp{0, tasks, runtime::now_ns(), 0}});
    out.add("tasks", static_cast<double>(tasks));
    if (!wait_until([&] { return live(pool) >= tasks; }, 30.0, microseconds(500))) {
        out.fail("only " + std::to_string(live(pool)) + " ring tasks live after 30 s");
    } else {
        std::this_thread::sleep_for(milliseconds(100));
        const auto start = latency(pool, metrics::latency_source::ready);
        const std::uint64_t resumes0 = resumes(pool);
        const std::uint64_t t0 = runtime::now_ns();
        std::this_thread::sleep_for(std::chrono::duration<double>(s.window_s));
        auto end = latency(pool, metrics::latency_source::ready);
        const std::uint64_t resumes1 = resumes(pool);
        const double wall_s = seconds_since(t0);
        for (std::size_t b = 0; b < end.buckets.size(); ++b) end.buckets[b] -= start.buckets[b];
        end.sum_ns -= start.sum_ns;
        out.add("window_s", wall_s);
        out.add("samples", static_cast<double>(end.count()));
        if (end.count() == 0) {
            out.fail("no hand-off recorded in the window");
        } else {
            out.add("p50_us", end.quantile(0.5) * 1e6);
            out.add("p99_us", end.quantile(0.99) * 1e6);
            out.add("mean_us", static_cast<double>(end.sum_ns) / static_cast<double>(end.count()) / 1e3);
            out.add("hops_per_s", static_cast<double>(resumes1 - resumes0) / wall_s);
        }
    }
    stop_and_report(pool, 30.0, out);
}

// Row 5: skynet on 1 thread with a target of exactly one tree. The root is
// spawned once and repeats its tree; every tree spawns tree_tasks - 1 tasks,
// so tree k has finished spawning when `spawned` reaches 1 + k (tasks - 1).
// The time between two such crossings is one whole tree (its join included);
// the first tree (from set_targets, cold memory) is reported apart. Trees are
// timed until at least `trees` of them and `trees_span_s` have passed.
void measure_skynet(bool asio, const sizes& s, result_line& out) {
    auto factory =
        make_factory<workloads::spawn_tree_workload, workloads::asio_spawn_tree_workload>(asio, s.tree);
    const std::uint64_t tasks = workloads::tree_tasks(s.tree);
    runtime::pool pool(1, {factory.get()}, runtime::worker_options{.sample_every = s.sample_every});
    pool.start();
    std::this_thread::sleep_for(milliseconds(50));
    const std::uint64_t t0 = runtime::now_ns();
    pool.set_targets({runtime::target_ramp{0, tasks, t0, 0}});

    std::vector<std::uint64_t> crossings;  // steady-clock ns at which tree k finished spawning
    const auto enough = [&] {
        return crossings.size() >= s.trees + 1 &&
               static_cast<double>(crossings.back() - crossings.front()) / 1e9 >= s.trees_span_s;
    };
    while (!enough() && seconds_since(t0) < s.tree_deadline_s && errors(pool) == 0) {
        const std::uint64_t n = spawned(pool);
        const std::uint64_t now = runtime::now_ns();
        // A late poll can see two trees at once: both get this time, and the
        // median over many trees shrugs off the 0 and the double interval.
        while (n >= 1 + (crossings.size() + 1) * (tasks - 1)) crossings.push_back(now);
        std::this_thread::sleep_for(microseconds(200));
    }
    out.add("tasks", static_cast<double>(tasks));
    out.add("trees", static_cast<double>(crossings.size()));
    if (crossings.empty()) {
        out.fail("no tree finished within " + std::to_string(s.tree_deadline_s) + " s (" +
                 std::to_string(spawned(pool)) + " tasks spawned)");
    } else {
        out.add("first_tree_s", static_cast<double>(crossings[0] - t0) / 1e9);
        std::vector<double> steady;
        for (std::size_t k = 1; k < crossings.size(); ++k) {
            steady.push_back(static_cast<double>(crossings[k] - crossings[k - 1]) / 1e9);
        }
        if (steady.empty()) {
            out.note("only the first tree finished in time; reporting it");
            out.add("s_per_tree", static_cast<double>(crossings[0] - t0) / 1e9);
        } else {
            out.add("s_per_tree", median(steady));
            out.add("trees_timed", static_cast<double>(steady.size()));
            out.add("tree_min_s", *std::min_element(steady.begin(), steady.end()));
            out.add("tree_max_s", *std::max_element(steady.begin(), steady.end()));
            if (steady.size() < s.trees) out.note("only " + std::to_string(steady.size()) + " trees timed");
        }
    }
    out.add("peak_rss_mib", peak_rss_mib());
    stop_and_report(pool, 60.0, out);
}

// ---------------------------------------------------------------------------
// Parent side: run the children, assemble the table.

struct child_run {
    bool ok = false;
    std::map<std::string, std::string> values;
    std::string problem;  // why the run failed, or a note it printed
    double wall_s = 0;
};

std::map<std::string, std::string> parse_result(const std::string& line) {
    std::map<std::string, std::string> values;
    std::size_t pos = line.find(' ');
    while (pos != std::string::npos && pos < line.size()) {
        const std::size_t key_start = pos + 1;
        const std::size_t eq = line.find('=', key_start);
        if (eq == std::string::npos) break;
        const std::string key = line.substr(key_start, eq - key_start);
        if (key == "note") {
            values[key] = line.substr(eq + 1);
            break;
        }
        const std::size_t end = line.find(' ', eq);
        values[key] = line.substr(eq + 1, end == std::string::npos ? std::string::npos : end - eq - 1);
        pos = end;
    }
    return values;
}

// Runs this binary with `args`, reading its stdout; kills it (SIGKILL, by its
// pid) if it is still running after `timeout_s`.
child_run run_child(const std::vector<std::string>& args, double timeout_s) {
    child_run run;
    const std::uint64_t start = runtime::now_ns();
    int fds[2];
    if (pipe(fds) != 0) {
        run.problem = std::string("pipe: ") + std::strerror(errno);
        return run;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    std::vector<std::string> argv_strings{"/proc/self/exe"};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int spawn_error = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (spawn_error != 0) {
        close(fds[0]);
        run.problem = std::string("posix_spawn: ") + std::strerror(spawn_error);
        return run;
    }

    std::string output;
    bool timed_out = false;
    for (;;) {
        const double left_s = timeout_s - seconds_since(start);
        if (left_s <= 0) {
            timed_out = true;
            break;
        }
        pollfd pfd{fds[0], POLLIN, 0};
        const int ready = poll(&pfd, 1, static_cast<int>(std::min(left_s, 1.0) * 1000) + 1);
        if (ready < 0 && errno != EINTR) break;
        if (ready <= 0) continue;
        char buf[4096];
        const ssize_t got = read(fds[0], buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;  // EOF: the child closed stdout (exited)
        output.append(buf, static_cast<std::size_t>(got));
    }
    close(fds[0]);
    int status = 0;
    bool reaped = false;
    while (!timed_out) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            reaped = true;
            break;
        }
        if (seconds_since(start) > timeout_s) {
            timed_out = true;
            break;
        }
        std::this_thread::sleep_for(milliseconds(5));
    }
    if (!reaped) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    run.wall_s = seconds_since(start);

    const std::size_t at = output.rfind("result ");
    std::string line;
    if (at != std::string::npos) line = output.substr(at, output.find('\n', at) - at);
    if (!line.empty()) run.values = parse_result(line);
    const auto note = run.values.find("note");
    const bool reported_ok = !line.empty() && run.values["status"] == "ok";
    if (timed_out) {
        char buf[128];
        std::snprintf(buf, sizeof buf, "killed after the %.0f s time limit", timeout_s);
        run.problem = buf;
    } else if (WIFSIGNALED(status)) {
        run.problem = "died of signal " + std::to_string(WTERMSIG(status));
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        run.problem = "exited with status " + std::to_string(WEXITSTATUS(status));
    } else if (line.empty()) {
        run.problem = "printed no result line";
    }
    if (note != run.values.end()) {
        run.problem += run.problem.empty() ? note->second : " (it had reported: " + note->second + ")";
    } else if (run.problem.empty() && !reported_ok) {
        run.problem = "failed";
    }
    // A child that reported its figures and then failed to shut down cleanly
    // still measured them; the problem goes into the notes.
    run.ok = reported_ok;
    return run;
}

// One measurement a child makes: which row, on how many threads.
struct child_kind {
    std::string row;  // bytes, spawn, yield, ring, skynet: what the child is asked for
    unsigned threads;
    std::string name;               // for progress lines and notes
    std::uint64_t sample_every = 0;  // 0: --sample-every of the command line
};

// One line of the table: which child, which key, how to show it.
struct table_row {
    std::string label;
    std::size_t kind;  // index into the child kinds
    std::string key;
    double scale;  // value shown = value * scale
};

std::string format_value(double v) {
    char buf[32];
    const double a = std::fabs(v);
    if (a >= 100) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
    } else if (a >= 10) {
        std::snprintf(buf, sizeof buf, "%.1f", v);
    } else if (a >= 1) {
        std::snprintf(buf, sizeof buf, "%.2f", v);
    } else {
        std::snprintf(buf, sizeof buf, "%.3g", v);
    }
    return buf;
}

std::string format_ratio(double r) {
    char buf[32];
    if (r >= 10) {
        std::snprintf(buf, sizeof buf, "%.0fx", r);
    } else if (r >= 1) {
        std::snprintf(buf, sizeof buf, "%.1fx", r);
    } else {
        std::snprintf(buf, sizeof buf, "%.2gx", r);
    }
    return buf;
}

void print_markdown(const std::vector<std::vector<std::string>>& cells) {
    std::vector<std::size_t> width(cells[0].size(), 3);
    for (const auto& row : cells) {
        for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
    }
    const auto line = [&](const std::vector<std::string>& row) {
        std::string out = "|";
        for (std::size_t c = 0; c < row.size(); ++c) {
            const std::size_t pad = width[c] - row[c].size();
            out += ' ';
            out += c == 0 ? row[c] + std::string(pad, ' ') : std::string(pad, ' ') + row[c];
            out += " |";
        }
        std::printf("%s\n", out.c_str());
    };
    line(cells[0]);
    std::string rule = "|";
    for (std::size_t c = 0; c < width.size(); ++c) {
        // The label column is left-aligned, the figures right-aligned.
        rule += ' ';
        rule.append(c == 0 ? width[c] : width[c] - 1, '-');
        rule += c == 0 ? " |" : ": |";
    }
    std::printf("%s\n", rule.c_str());
    for (std::size_t r = 1; r < cells.size(); ++r) line(cells[r]);
}

std::string today() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &utc);
    return buf;
}

void print_usage(std::FILE* to) {
    std::fprintf(
        to,
        "usage: bench_engines [--quick] [--rows LIST] [--repeat N] [--sample-every N]\n"
        "  --quick           smaller sizes for a smoke run (100k sleepers, depth-5 tree, 1 run)\n"
        "  --rows LIST       comma-separated rows: bytes,spawn,yield,record,ring,skynet (default: all)\n"
        "  --repeat N        fresh processes per figure, table shows medians (default 3; 1 with --quick)\n"
        "  --sample-every N  record the latency of 1 in N resumes (default 1, the daemon's default)\n");
}

int run_parent(int argc, char** argv) {
    bool quick = false;
    unsigned repeat = 0;
    std::uint64_t sample_every = 1;
    std::vector<std::string> rows{"bytes", "spawn", "yield", "record", "ring", "skynet"};
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--quick") {
            quick = true;
        } else if (arg == "--help" || arg == "-h") {
            print_usage(stdout);
            return 0;
        } else if (arg == "--rows" && i + 1 < argc) {
            rows.clear();
            std::string list = argv[++i];
            for (std::size_t start = 0; start <= list.size();) {
                const std::size_t comma = std::min(list.find(',', start), list.size());
                const std::string row = list.substr(start, comma - start);
                if (row != "bytes" && row != "spawn" && row != "yield" && row != "record" && row != "ring" &&
                    row != "skynet") {
                    std::fprintf(stderr,
                                 "--rows: unknown row '%s'; allowed: bytes, spawn, yield, record, ring, skynet\n",
                                 row.c_str());
                    return 2;
                }
                rows.push_back(row);
                start = comma + 1;
            }
        } else if (arg == "--sample-every" && i + 1 < argc) {
            char* end = nullptr;
            const unsigned long long n = std::strtoull(argv[++i], &end, 10);
            if (*end != '\0' || n < 1 || n > 1'000'000) {
                std::fprintf(stderr, "--sample-every: must be between 1 and 1000000, got '%s'\n", argv[i]);
                return 2;
            }
            sample_every = n;
        } else if (arg == "--repeat" && i + 1 < argc) {
            char* end = nullptr;
            const unsigned long n = std::strtoul(argv[++i], &end, 10);
            if (*end != '\0' || n < 1 || n > 100) {
                std::fprintf(stderr, "--repeat: must be between 1 and 100, got '%s'\n", argv[i]);
                return 2;
            }
            repeat = static_cast<unsigned>(n);
        } else {
            std::fprintf(stderr, "unknown option '%s'\n", argv[i]);
            print_usage(stderr);
            return 2;
        }
    }
    if (repeat == 0) repeat = quick ? 1 : 3;
    const auto wants = [&](std::string_view row) {
        return std::find(rows.begin(), rows.end(), row) != rows.end();
    };
    sizes s = sizes_for(quick);
    s.sample_every = sample_every;

    std::string command = argv[0];
    for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
    std::printf("# corostorm engines side by side: lean (corostorm tasks) vs asio (co_spawn + awaitable)\n");
    std::printf("machine: %s, %u CPUs available, %.1f GiB, kernel %s, %s %s, Boost %s\n",
                metrics::cpu_model().c_str(), metrics::available_cpus(),
                static_cast<double>(metrics::total_memory_bytes()) / (1024.0 * 1024 * 1024),
                metrics::kernel_release().c_str(),
#ifdef __clang__
                "clang",
#else
                "g++",
#endif
                __VERSION__, COROSTORM_BOOST_VERSION);
    std::printf("command: %s\n", command.c_str());
    std::printf(
        "date: %s; every figure from a fresh process; %u run%s each, table shows the median;\n"
        "latency recorded for 1 in %llu resumes\n\n",
        today().c_str(), repeat, repeat == 1 ? "" : "s", static_cast<unsigned long long>(sample_every));
    std::fflush(stdout);

    std::vector<child_kind> kinds;
    std::vector<table_row> table;
    const std::string sleepers = count_label(s.sleepers);
    if (wants("bytes")) {
        kinds.push_back({"bytes", 1, sleepers + " sleepers, period 1 s"});
        const std::size_t k = kinds.size() - 1;
        table.push_back({"bytes/task, RSS growth, " + sleepers + " sleepers, period 1 s, 1 thread", k,
                         "rss_per_task", 1});
        table.push_back({"bytes/task, heap growth", k, "heap_per_task", 1});
        table.push_back({"bytes/task, frames (exact; lean only)", k, "frame_per_task", 1});
        table.push_back({"spawn rate, same run: period 1 s (M tasks/s)", k, "spawn_per_s", 1e-6});
    }
    if (wants("spawn")) {
        kinds.push_back({"spawn", 1, sleepers + " sleepers, period 10 s"});
        table.push_back({"spawn rate, " + sleepers + " sleepers, period 10 s, 1 thread (M tasks/s)",
                         kinds.size() - 1, "spawn_per_s", 1e-6});
    }
    if (wants("yield")) {
        for (const unsigned threads : {1u, 2u}) {
            const std::string t = std::to_string(threads) + (threads == 1 ? " thread" : " threads");
            kinds.push_back({"yield", threads, "yield " + t});
            const std::size_t k = kinds.size() - 1;
            table.push_back({"ns per yield (worker CPU), " + count_label(s.yield_tasks) + " tasks, " + t, k,
                             "ns_per_yield", 1});
            table.push_back({"yields/s, " + t + " (M/s)", k, "yields_per_s", 1e-6});
        }
    }
    // What measuring costs: the same yield loop with the latency of every
    // resume recorded, and of 1 in a million (nearly none).
    std::size_t record_every = 0;
    std::size_t record_rarely = 0;
    if (wants("record")) {
        kinds.push_back({"yield", 1, "yield 1 thread, every resume recorded", 1});
        record_every = kinds.size() - 1;
        table.push_back({"ns per yield, latency of every resume recorded, 1 thread", record_every,
                         "ns_per_yield", 1});
        kinds.push_back({"yield", 1, "yield 1 thread, 1 in 1M resumes recorded", 1'000'000});
        record_rarely = kinds.size() - 1;
        table.push_back({"ns per yield, latency of 1 in 1M resumes recorded, 1 thread", record_rarely,
                         "ns_per_yield", 1});
    }
    if (wants("ring")) {
        kinds.push_back({"ring", 1, "ring"});
        const std::size_t k = kinds.size() - 1;
        const std::string shape =
            std::to_string(s.rings) + " rings x " + std::to_string(s.ring_size) + " tasks, 1 thread";
        table.push_back({"ring hand-off p50 (us), " + shape, k, "p50_us", 1});
        table.push_back({"ring hand-off p99 (us)", k, "p99_us", 1});
        table.push_back({"ring hand-off mean (us, exact)", k, "mean_us", 1});
        table.push_back({"ring hand-offs/s (M/s)", k, "hops_per_s", 1e-6});
    }
    if (wants("skynet")) {
        kinds.push_back({"skynet", 1, "skynet"});
        const std::size_t k = kinds.size() - 1;
        table.push_back(
            {"skynet, " + text::group_digits(workloads::tree_tasks(s.tree)) + " tasks, 1 thread (s per tree)",
             k, "s_per_tree", 1});
        table.push_back({"skynet, peak RSS of the process (MiB)", k, "peak_rss_mib", 1});
    }

    // runs[kind][engine] = every run of that child, in order.
    const std::vector<std::string> engines{"lean", "asio"};
    const double slow_run_s = 60;
    std::vector<std::vector<std::vector<child_run>>> runs(kinds.size(),
                                                          std::vector<std::vector<child_run>>(2));
    std::vector<std::string> notes;
    bool all_ok = true;
    const std::uint64_t started = runtime::now_ns();
    // Repeats outermost and engines alternating, so a burst of outside load
    // spreads over both columns instead of landing on one.
    for (unsigned r = 0; r < repeat; ++r) {
        for (std::size_t k = 0; k < kinds.size(); ++k) {
            for (std::size_t e = 0; e < engines.size(); ++e) {
                // A figure whose one run takes minutes is not worth three.
                const auto& done = runs[k][e];
                if (!done.empty() && done.front().wall_s > slow_run_s) {
                    if (r == 1) {
                        char buf[160];
                        std::snprintf(buf, sizeof buf, "%s %s: ran once, a run takes %.0f s (over %.0f s)",
                                      engines[e].c_str(), kinds[k].name.c_str(), done.front().wall_s,
                                      slow_run_s);
                        notes.emplace_back(buf);
                    }
                    continue;
                }
                std::vector<std::string> args{"--row",    kinds[k].row, "--engine",
                                              engines[e], "--threads",  std::to_string(kinds[k].threads)};
                if (quick) args.emplace_back("--quick");
                const std::uint64_t child_sample_every =
                    kinds[k].sample_every != 0 ? kinds[k].sample_every : sample_every;
                if (child_sample_every != 1) {
                    args.emplace_back("--sample-every");
                    args.push_back(std::to_string(child_sample_every));
                }
                std::fprintf(stderr, "[%5.1f s] run %u/%u: %s, %s ...", seconds_since(started), r + 1, repeat,
                             kinds[k].name.c_str(), engines[e].c_str());
                std::fflush(stderr);
                child_run run = run_child(args, s.child_timeout_s);
                std::fprintf(stderr, " %s in %.1f s\n", run.ok ? "done" : "FAILED", run.wall_s);
                if (!run.problem.empty()) {
                    notes.push_back(engines[e] + " " + kinds[k].name + ", run " + std::to_string(r + 1) +
                                    ": " + run.problem);
                }
                all_ok = all_ok && run.ok;
                runs[k][e].push_back(std::move(run));
            }
        }
    }
    const double total_s = seconds_since(started);

    // The values of one key over the successful runs of one child and engine.
    const auto values = [&](std::size_t kind, std::size_t engine, const std::string& key) {
        std::vector<double> v;
        for (const auto& run : runs[kind][engine]) {
            const auto it = run.values.find(key);
            if (run.ok && it != run.values.end()) v.push_back(std::strtod(it->second.c_str(), nullptr));
        }
        return v;
    };

    std::vector<std::vector<std::string>> cells{{"figure", "lean", "asio", "asio/lean"}};
    std::vector<std::string> spreads;
    for (const auto& row : table) {
        std::vector<std::string> line{row.label};
        std::optional<double> med[2];
        std::vector<std::string> per_engine;
        for (std::size_t e = 0; e < engines.size(); ++e) {
            const auto v = values(row.kind, e, row.key);
            const bool any_run_ok = std::any_of(runs[row.kind][e].begin(), runs[row.kind][e].end(),
                                                [](const child_run& c) { return c.ok; });
            if (v.empty()) {
                line.push_back(any_run_ok ? "n/a" : "failed");
                continue;
            }
            med[e] = median(v) * row.scale;
            line.push_back(format_value(*med[e]));
            std::string all = engines[e];
            for (const double x : v) all += " " + format_value(x * row.scale);
            per_engine.push_back(std::move(all));
        }
        line.push_back(med[0] && med[1] && *med[0] != 0 ? format_ratio(*med[1] / *med[0]) : "");
        cells.push_back(std::move(line));
        std::string spread = row.label + ":";
        for (std::size_t i = 0; i < per_engine.size(); ++i) spread += (i == 0 ? " " : "; ") + per_engine[i];
        spreads.push_back(std::move(spread));
    }
    print_markdown(cells);
    if (wants("record")) {
        std::printf("\nlatency recording on every resume costs (ns per yield, every / 1 in 1M, medians):");
        for (std::size_t e = 0; e < engines.size(); ++e) {
            const auto every = values(record_every, e, "ns_per_yield");
            const auto rarely = values(record_rarely, e, "ns_per_yield");
            if (every.empty() || rarely.empty()) continue;
            std::printf(" %s %+.1f%%%s", engines[e].c_str(), (median(every) / median(rarely) - 1) * 100,
                        e + 1 < engines.size() ? ";" : "");
        }
        std::printf("\n");
    }

    std::printf("\nevery run (in order):\n");
    for (const auto& line : spreads) std::printf("  %s\n", line.c_str());
    // Worker CPU / wall in the yield window: under 1 per thread means the
    // workers waited for a core (outside load), which lowers yields/s but not
    // the CPU cost per yield.
    for (std::size_t k = 0; k < kinds.size(); ++k) {
        if (kinds[k].row != "yield") continue;
        std::string shares;
        for (std::size_t e = 0; e < engines.size(); ++e) {
            shares += (e == 0 ? " " : "; ") + engines[e];
            for (const double x : values(k, e, "busy_share")) {
                shares += " " + format_value(x);
                if (x < 0.9) {
                    notes.push_back(engines[e] + " " + kinds[k].name + ": the workers ran " +
                                    format_value(x) +
                                    " of the wall time (outside load?): yields/s is understated, ns per "
                                    "yield is not");
                }
            }
        }
        std::printf("  %s, worker CPU / wall per thread:%s\n", kinds[k].name.c_str(), shares.c_str());
    }
    for (std::size_t k = 0; k < kinds.size(); ++k) {
        if (kinds[k].row != "skynet") continue;
        for (std::size_t e = 0; e < engines.size(); ++e) {
            std::string trees;
            for (const auto& run : runs[k][e]) {
                const auto get = [&](const char* key) {
                    const auto it = run.values.find(key);
                    return it == run.values.end() ? -1.0 : std::strtod(it->second.c_str(), nullptr);
                };
                char buf[160];
                std::snprintf(buf, sizeof buf, " [first (cold) %s; %.0f timed: min %s, median %s, max %s]",
                              format_value(get("first_tree_s")).c_str(), get("trees_timed"),
                              format_value(get("tree_min_s")).c_str(),
                              format_value(get("s_per_tree")).c_str(),
                              format_value(get("tree_max_s")).c_str());
                trees += buf;
            }
            std::printf("  skynet %s, s per tree:%s\n", engines[e].c_str(), trees.c_str());
        }
    }

    std::printf("\nhow to read it:\n");
    if (wants("bytes")) {
        std::printf(
            "  bytes/task: growth over the task count, measured before the first spawn and when all are "
            "live;\n"
            "    asio frames come from Asio's own allocator, so only RSS and heap growth count them.\n");
    }
    if (wants("bytes") || wants("spawn")) {
        std::printf(
            "  spawn rate: tasks / time from set_targets until all are live, in a fresh process (page "
            "faults\n"
            "    included). Sleepers start at a random phase of their period, so the first ones wake while\n"
            "    the rest are spawned: with a 1 s period an engine that cannot wake every task once a "
            "second\n"
            "    spawns behind its own wake-ups; a 10 s period leaves mostly the cost of spawning.\n");
    }
    if (wants("yield")) {
        std::printf(
            "  ns per yield: worker thread CPU time / resumes over a %.1f s window; yields/s: resumes / "
            "wall.\n",
            s.window_s);
    }
    if (wants("ring")) {
        std::printf(
            "  ring hand-off: source=ready latency over a %.1f s window. The histogram's buckets double\n"
            "    from 1 us (1, 2, 4, 8 ... us): p50/p99 are interpolated linearly within a factor-2 bucket\n"
            "    (a p50 near a bucket edge moves by up to 2x between runs); the mean is exact (sum / "
            "count).\n",
            s.window_s);
    }
    if (wants("skynet")) {
        std::printf(
            "  skynet: one tree at a time (target = one tree); time between two trees' last spawns, the\n"
            "    first (cold) tree excluded; median of at least %llu trees and %.2g s of them.\n",
            static_cast<unsigned long long>(s.trees), s.trees_span_s);
    }
    if (!notes.empty()) {
        std::printf("\nnotes:\n");
        for (const auto& n : notes) std::printf("  %s\n", n.c_str());
    }
    std::printf("\ntotal: %.0f s\n", total_s);
    return all_ok ? 0 : 1;
}

int run_child(int argc, char** argv) {
    std::string row;
    std::string engine;
    unsigned threads = 1;
    std::uint64_t sample_every = 1;
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--quick") {
            quick = true;
        } else if (arg == "--row" && i + 1 < argc) {
            row = argv[++i];
        } else if (arg == "--engine" && i + 1 < argc) {
            engine = argv[++i];
        } else if (arg == "--threads" && i + 1 < argc) {
            threads = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
        } else if (arg == "--sample-every" && i + 1 < argc) {
            sample_every = std::strtoull(argv[++i], nullptr, 10);
        } else {
            std::fprintf(stderr, "child: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (engine != "lean" && engine != "asio") {
        std::fprintf(stderr, "--engine: must be lean or asio, got '%s'\n", engine.c_str());
        return 2;
    }
    if (sample_every < 1) sample_every = 1;
    if (threads < 1 || threads > 64) {
        std::fprintf(stderr, "--threads: must be between 1 and 64\n");
        return 2;
    }
    const bool asio = engine == "asio";
    sizes s = sizes_for(quick);
    s.sample_every = sample_every;
    result_line out;
    out.add("row", row);
    out.add("engine", engine);
    if (row == "bytes") {
        measure_sleepers(asio, 1'000'000'000, s, out);
    } else if (row == "spawn") {
        measure_sleepers(asio, 10'000'000'000, s, out);
    } else if (row == "yield") {
        measure_yield(asio, threads, s, out);
    } else if (row == "ring") {
        measure_ring(asio, s, out);
    } else if (row == "skynet") {
        measure_skynet(asio, s, out);
    } else {
        std::fprintf(stderr, "--row: must be bytes, spawn, yield, ring or skynet, got '%s'\n", row.c_str());
        return 2;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // A child is this binary started with --engine; the parent never passes it.
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--engine") return run_child(argc, argv);
    }
    return run_parent(argc, argv);
}
