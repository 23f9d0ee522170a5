#include "daemon/assembly.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <variant>

#include "metrics/exporter.h"
#include "metrics/probes.h"
#include "metrics/revision.h"
#include "workloads/echo.h"
#include "workloads/ring.h"
#include "workloads/rpc.h"
#include "workloads/sleep.h"
#include "workloads/spawn_tree.h"
#include "workloads/yield.h"

namespace corostorm::daemon {

namespace {

std::uint64_t to_ns(config::duration d) { return static_cast<std::uint64_t>(d.count()); }

workloads::engine engine_of(config::engine_kind e) noexcept {
    return e == config::engine_kind::asio ? workloads::engine::asio : workloads::engine::lean;
}

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};

}  // namespace

// The options of every workload kind; cpu runs as yield with its slice as the work.
struct workload_options
    : std::variant<workloads::sleep_options, workloads::yield_options, workloads::ring_options,
                   workloads::spawn_tree_options, workloads::echo_options, workloads::rpc_options> {
    explicit workload_options(const config::workload_config& w) : variant(of(w)) {}

    static variant of(const config::workload_config& w) {
        switch (w.kind) {
            case config::workload_kind::sleep:
                return workloads::sleep_options{.period_ns = to_ns(w.sleep.period),
                                                .rounds = w.sleep.rounds,
                                                .work_ns = to_ns(w.sleep.work)};
            case config::workload_kind::yield:
                return workloads::yield_options{.rounds = w.yield.rounds, .work_ns = to_ns(w.yield.work)};
            case config::workload_kind::cpu:
                return workloads::yield_options{.rounds = w.cpu.rounds, .work_ns = to_ns(w.cpu.slice)};
            case config::workload_kind::ring:
                return workloads::ring_options{.ring_size = w.ring.ring_size};
            case config::workload_kind::spawn_tree:
                return workloads::spawn_tree_options{.fanout = w.spawn_tree.fanout,
                                                     .depth = w.spawn_tree.depth};
            case config::workload_kind::echo:
                return workloads::echo_options{.period_ns = to_ns(w.echo.period), .message = w.echo.message};
            case config::workload_kind::rpc:
                return workloads::rpc_options{.period_ns = to_ns(w.rpc.period),
                                              .message = w.rpc.message,
                                              .connections = w.rpc.connections};
        }
        throw std::logic_error("unhandled workload kind");
    }

    // The kind these options are for, as workloads/workload.h runs it.
    template <class F>
    auto with_kind(F&& f) const {
        return std::visit(
            overloaded{
                [&](const workloads::sleep_options&) { return f(workloads::sleepers{}); },
                [&](const workloads::yield_options&) { return f(workloads::yielders{}); },
                [&](const workloads::ring_options&) { return f(workloads::rings{}); },
                [&](const workloads::spawn_tree_options&) { return f(workloads::spawn_trees{}); },
                [&](const workloads::echo_options&) { return f(workloads::echo_connections{}); },
                [&](const workloads::rpc_options&) { return f(workloads::rpc_callers{}); },
            },
            static_cast<const variant&>(*this));
    }

    std::unique_ptr<runtime::task_factory> make_factory(config::engine_kind engine) const {
        return with_kind([&]<class Kind>(Kind) {
            return workloads::make_workload<Kind>(engine_of(engine), std::get<typename Kind::options>(*this));
        });
    }
    std::uint64_t tasks_per_unit() const {
        return with_kind([&]<class Kind>(Kind) {
            return workloads::tasks_per_unit<Kind>(std::get<typename Kind::options>(*this));
        });
    }
    // A reload: the tunable fields take `w`'s values. A change of kind is
    // restart-only (daemon/reload.h); were one to come here, std::get would
    // throw rather than write into the wrong options.
    void retune(const config::workload_config& w) {
        const variant fresh = of(w);
        std::visit([&](auto& live) { live.retune(std::get<std::decay_t<decltype(live)>>(fresh)); },
                   static_cast<variant&>(*this));
    }
};

std::uint64_t tasks_per_unit(const config::workload_config& w) {
    return workload_options(w).tasks_per_unit();
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
        units.push_back(tasks_per_unit(w));
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
                   std::optional<std::uint64_t> memory_limit, const metrics::reload_counts* reloads) {
    std::vector<bool> io_workloads;
    for (const auto& w : cfg.workloads) {
        options_.push_back(std::make_unique<workload_options>(w));
        factories_.push_back(options_.back()->make_factory(cfg.runtime.engine));
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
    for (std::size_t w = 0; w < workloads.size() && w < options_.size(); ++w) {
        options_[w]->retune(workloads[w]);
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
