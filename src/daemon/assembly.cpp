#include "daemon/assembly.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "metrics/exporter.h"
#include "metrics/probes.h"
#include "metrics/revision.h"
#include "workloads/cpu.h"
#include "workloads/echo.h"
#include "workloads/ring.h"
#include "workloads/rpc.h"
#include "workloads/sleep.h"
#include "workloads/spawn_tree.h"
#include "workloads/yield.h"

namespace corostorm::daemon {

namespace {

std::uint64_t to_ns(config::duration d) { return static_cast<std::uint64_t>(d.count()); }

workloads::sleep_options sleep_options_of(const config::sleep_params& p) {
    return {.period_ns = to_ns(p.period), .rounds = p.rounds, .work_ns = to_ns(p.work)};
}
workloads::yield_options yield_options_of(const config::yield_params& p) {
    return {.rounds = p.rounds, .work_ns = to_ns(p.work)};
}
workloads::cpu_options cpu_options_of(const config::cpu_params& p) {
    return {.slice_ns = to_ns(p.slice), .rounds = p.rounds};
}
workloads::echo_options echo_options_of(const config::echo_params& p) {
    return {.period_ns = to_ns(p.period), .message = p.message};
}
workloads::rpc_options rpc_options_of(const config::rpc_params& p) {
    return {.period_ns = to_ns(p.period), .message = p.message, .connections = p.connections};
}

// The factory make_workload built for (kind, engine) is of exactly this type.
template <class Lean, class Asio, class Options>
void retune_as(runtime::task_factory& f, config::engine_kind engine, const Options& options) {
    if (engine == config::engine_kind::asio) {
        static_cast<Asio&>(f).retune(options);
    } else {
        static_cast<Lean&>(f).retune(options);
    }
}

template <class Lean, class Asio, class Options>
std::unique_ptr<runtime::task_factory> make_for(config::engine_kind engine, const Options& options) {
    if (engine == config::engine_kind::asio) return std::make_unique<Asio>(options);
    return std::make_unique<Lean>(options);
}

}  // namespace

std::unique_ptr<runtime::task_factory> make_workload(const config::workload_config& w,
                                                     config::engine_kind engine) {
    switch (w.kind) {
        case config::workload_kind::sleep:
            return make_for<workloads::sleep_workload, workloads::asio_sleep_workload>(
                engine, sleep_options_of(w.sleep));
        case config::workload_kind::yield:
            return make_for<workloads::yield_workload, workloads::asio_yield_workload>(
                engine, yield_options_of(w.yield));
        case config::workload_kind::ring:
            return make_for<workloads::ring_workload, workloads::asio_ring_workload>(
                engine, workloads::ring_options{.ring_size = w.ring.ring_size});
        case config::workload_kind::spawn_tree:
            return make_for<workloads::spawn_tree_workload, workloads::asio_spawn_tree_workload>(
                engine,
                workloads::spawn_tree_options{.fanout = w.spawn_tree.fanout, .depth = w.spawn_tree.depth});
        case config::workload_kind::cpu:
            return make_for<workloads::cpu_workload, workloads::asio_cpu_workload>(engine,
                                                                                   cpu_options_of(w.cpu));
        case config::workload_kind::echo:
            return make_for<workloads::echo_workload, workloads::asio_echo_workload>(engine,
                                                                                     echo_options_of(w.echo));
        case config::workload_kind::rpc:
            return make_for<workloads::rpc_workload, workloads::asio_rpc_workload>(engine,
                                                                                   rpc_options_of(w.rpc));
    }
    throw std::logic_error("unhandled workload kind");
}

void retune_workload(runtime::task_factory& f, const config::workload_config& w, config::engine_kind engine) {
    switch (w.kind) {
        case config::workload_kind::sleep:
            retune_as<workloads::sleep_workload, workloads::asio_sleep_workload>(f, engine,
                                                                                 sleep_options_of(w.sleep));
            return;
        case config::workload_kind::yield:
            retune_as<workloads::yield_workload, workloads::asio_yield_workload>(f, engine,
                                                                                 yield_options_of(w.yield));
            return;
        case config::workload_kind::cpu:
            retune_as<workloads::cpu_workload, workloads::asio_cpu_workload>(f, engine,
                                                                             cpu_options_of(w.cpu));
            return;
        case config::workload_kind::echo:
            // Both engines share the base that holds the options.
            static_cast<workloads::echo_workload_base&>(f).retune(echo_options_of(w.echo));
            return;
        case config::workload_kind::rpc:
            static_cast<workloads::rpc_workload_base&>(f).retune(rpc_options_of(w.rpc));
            return;
        case config::workload_kind::ring:
        case config::workload_kind::spawn_tree:
            return;  // their parameters shape the unit: a restart changes them
    }
}

scenario::timeline make_timeline(const config::config& cfg, std::uint64_t start_ns,
                                 std::uint64_t start_total) {
    std::vector<scenario::stage> stages;
    for (const auto& s : cfg.scenario.stages) stages.push_back({s.name, s.tasks, to_ns(s.over)});
    std::vector<double> weights;
    for (const auto& w : cfg.workloads) weights.push_back(w.weight);
    return scenario::timeline(std::move(stages), cfg.scenario.repeat, std::move(weights), start_ns,
                              start_total);
}

std::string describe_starved(const config::workload_config& w, std::size_t index, std::string_view stage,
                             const unit_fit& fit) {
    std::string unit;
    switch (w.kind) {
        case config::workload_kind::ring:
            unit = fmt::format("a ring of {} tasks (ring_size)", fit.unit);
            break;
        case config::workload_kind::spawn_tree:
            unit = fmt::format("a tree of {} tasks (fanout {}, depth {})", fit.unit, w.spawn_tree.fanout,
                               w.spawn_tree.depth);
            break;
        default:
            unit = fmt::format("a unit of {} tasks", fit.unit);
            break;
    }
    return fmt::format(
        "workloads[{}] ({}) runs nothing in stage {}: its share of the target is {} task(s), less than {}; "
        "raise the stage's tasks or the workload's weight, or make its unit smaller",
        index, w.name, stage, fit.share, unit);
}

std::vector<std::string> starved_workloads(const config::config& cfg) {
    std::vector<double> weights;
    std::vector<std::uint64_t> units;
    for (const auto& w : cfg.workloads) {
        weights.push_back(w.weight);
        units.push_back(make_workload(w, cfg.runtime.engine)->tasks_per_unit());
    }
    std::vector<std::string> out;
    std::uint64_t total = 0;
    for (const auto& stage : cfg.scenario.stages) {
        if (!stage.tasks) continue;  // keeps the previous stage's target: said there already
        total = *stage.tasks;
        const auto shares = scenario::split_by_weight(total, weights);
        for (std::size_t w = 0; w < cfg.workloads.size(); ++w) {
            const unit_fit fit{shares[w], units[w]};
            if (fit.starved()) out.push_back(describe_starved(cfg.workloads[w], w, stage.name, fit));
        }
    }
    return out;
}

bool is_io_workload(config::workload_kind kind) noexcept {
    return kind == config::workload_kind::echo || kind == config::workload_kind::rpc;
}

unsigned worker_threads(const config::config& cfg) {
    return cfg.runtime.threads != 0 ? cfg.runtime.threads : metrics::available_cpus();
}

std::string oversubscribed_threads(const config::config& cfg, unsigned cpus) {
    if (cfg.runtime.threads <= cpus) return {};
    return "runtime.threads: " + std::to_string(cfg.runtime.threads) + " worker threads on " +
           std::to_string(cpus) +
           " CPU(s) available: the workers beyond the CPUs only take turns on them (timer lateness "
           "grows), and each holds its own 1 MiB frame slab; runtime.threads: 0 takes the CPUs available";
}

assembly::assembly(const config::config& cfg, std::function<metrics::scenario_view()> scenario,
                   std::optional<std::uint64_t> memory_limit, const metrics::reload_counts* reloads)
    : engine_(cfg.runtime.engine) {
    std::vector<bool> io_workloads;
    for (const auto& w : cfg.workloads) {
        factories_.push_back(make_workload(w, cfg.runtime.engine));
        workload_names_.push_back(w.name);
        io_workloads.push_back(is_io_workload(w.kind));
    }
    std::vector<runtime::task_factory*> raw;
    for (auto& f : factories_) raw.push_back(f.get());
    const auto layout = cfg.runtime.layout == config::layout_kind::shared ? runtime::layout::shared
                                                                          : runtime::layout::per_thread;
    pool_ = std::make_unique<runtime::pool>(
        worker_threads(cfg), std::move(raw),
        runtime::worker_options{
            .timer_tick_ns = static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.runtime.timer_tick).count()),
            .sample_every = cfg.latency.sample_every,
            .next_slot = cfg.runtime.hand_off == config::hand_off_kind::next,
            .asio_executor = cfg.runtime.asio.executor == config::asio_executor_kind::typed
                                 ? runtime::asio_executor_kind::typed
                                 : runtime::asio_executor_kind::any,
            .asio_allocator = cfg.runtime.asio.allocator == config::asio_allocator_kind::worker
                                  ? runtime::asio_allocator_kind::worker
                                  : runtime::asio_allocator_kind::recycling,
            .asio_token = cfg.runtime.asio.token == config::asio_token_kind::deferred
                              ? runtime::asio_token_kind::deferred
                              : runtime::asio_token_kind::use_awaitable},
        layout);

    frame_bytes_exact_ = cfg.runtime.engine == config::engine_kind::lean;
    fd_plan_ =
        guard::plan_fds(cfg, pool_->size(), guard::raise_fd_limit(), metrics::read_process_stats().open_fds);
    if (std::any_of(cfg.workloads.begin(), cfg.workloads.end(),
                    [](const auto& w) { return w.kind == config::workload_kind::echo; })) {
        for (unsigned i = 0; i < pool_->size(); ++i) pool_->at(i).set_fd_ceiling(fd_plan_.per_worker());
    }
    // After the pool's own allocations, before the first spawn.
    rss_baseline_ = metrics::resident_bytes();
    heap_baseline_ = metrics::heap_in_use_bytes();
    kernel_baseline_ = metrics::read_kernel_memory();
    exporter_ = std::make_unique<metrics::runtime_exporter>(metrics::exporter_source{
        .version = COROSTORM_VERSION,
        .revision = metrics::build_revision(),
        .engine = std::string(config::to_string(cfg.runtime.engine)),
        .frame_bytes_exact = frame_bytes_exact_,
        .workloads = workload_names_,
        .io_workloads = io_workloads,
        .shards = shards(),
        .rss_baseline_bytes = rss_baseline_,
        .heap_baseline_bytes = heap_baseline_,
        .kernel_baseline = kernel_baseline_,
        .scenario = std::move(scenario),
        .memory_limit_bytes = memory_limit,
        .reloads = reloads,
    });
}

assembly::~assembly() = default;

void assembly::retune(const std::vector<config::workload_config>& workloads) {
    for (std::size_t w = 0; w < workloads.size() && w < factories_.size(); ++w) {
        retune_workload(*factories_[w], workloads[w], engine_);
    }
}

std::vector<const metrics::worker_shard*> assembly::shards() const {
    std::vector<const metrics::worker_shard*> out;
    for (unsigned i = 0; i < pool_->size(); ++i) out.push_back(&pool_->at(i).shard());
    return out;
}

metrics::runtime_totals assembly::totals() const {
    return metrics::sum_shards(shards(), workload_names_.size());
}

std::optional<metrics::memory_per_task> assembly::memory_per_task(
    const metrics::runtime_totals& totals) const {
    return metrics::measure_memory_per_task(totals, rss_baseline_, heap_baseline_, kernel_baseline_);
}

}  // namespace corostorm::daemon
