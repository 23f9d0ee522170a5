// The one task factory of every workload: a kind (what a unit of it is and
// how it starts) run on one engine, reading options its owner keeps.
//
// Design note. A kind is a plain struct, one per workload header:
//   using options = ...;                    its parameters
//   static void spawn_lean(task_env, worker&, const options&[, state&]);
//   static void spawn_asio(task_env, worker&, const options&[, state&]);
// and, where it has them:
//   static std::uint64_t tasks_per_unit(const options&);  default 1
//   static constexpr std::uint64_t fds_per_unit = N;       default 0
//   using state = ...;  per-worker infrastructure (listeners, shared
//     connections): made on the worker's first spawn, on its thread, as
//     state(worker, workload index, options, workers); stopped with stop()
//     when the worker begins to drain; destroyed when the worker exits.
// The factory holds the options by reference: they belong to whoever built
// it (the assembly, a test), who must keep them for the factory's life. A
// reload writes the options' tunable fields in place, and tasks see the new
// values at their next read (workloads/tunable.h), so the factory needs no
// retune of its own and nobody needs its concrete type. The engine is a
// template argument: spawn() is one virtual call into a direct call, as
// cheap as the hand-written factories it replaces.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/task_factory.h"
#include "runtime/worker.h"

namespace corostorm::workloads {

// How a workload's tasks are written: as corostorm's own coroutines, or as
// asio::awaitable run by co_spawn (docs/configuration.md, runtime.engine).
enum class engine : std::uint8_t { lean, asio };

template <class Kind>
concept with_worker_state = requires {
    typename Kind::state;
};

namespace detail {

// Per-worker states, for the kinds that have them; nothing otherwise.
template <class Kind>
struct worker_states {};

template <with_worker_state Kind>
struct worker_states<Kind> {
    std::vector<std::unique_ptr<typename Kind::state>> at;
    unsigned workers = 1;
};

}  // namespace detail

// Tasks of the target one unit of `Kind` stands for (a ring: its size).
template <class Kind>
std::uint64_t tasks_per_unit(const typename Kind::options& options) noexcept {
    if constexpr (requires { Kind::tasks_per_unit(options); }) {
        return Kind::tasks_per_unit(options);
    } else {
        return 1;
    }
}

template <class Kind, engine Engine>
class workload final : public runtime::task_factory {
public:
    using options = typename Kind::options;

    explicit workload(const options& o) noexcept : options_(o) {}
    workload(options&&) = delete;  // the options must outlive the factory

    void spawn(runtime::task_env env, runtime::worker& w) override {
        if constexpr (with_worker_state<Kind>) {
            auto& slot = states_.at[w.index()];
            if (!slot)
                slot = std::make_unique<typename Kind::state>(w, env.workload, options_, states_.workers);
            start(env, w, *slot);
        } else {
            start(env, w);
        }
    }
    std::uint64_t tasks_per_unit() const noexcept override {
        return workloads::tasks_per_unit<Kind>(options_);
    }
    std::uint64_t fds_per_unit() const noexcept override {
        if constexpr (requires { Kind::fds_per_unit; }) {
            return Kind::fds_per_unit;
        } else {
            return 0;
        }
    }
    void prepare(unsigned workers) override {
        if constexpr (with_worker_state<Kind>) {
            states_.workers = workers;
            states_.at.resize(workers);
        }
    }
    void on_worker_stop(runtime::worker& w) override {
        if constexpr (with_worker_state<Kind>) {
            if (auto& state = states_.at[w.index()]) state->stop();
        }
    }
    void on_worker_exit(runtime::worker& w) noexcept override {
        if constexpr (with_worker_state<Kind>) states_.at[w.index()].reset();
    }

private:
    template <class... State>
    void start(runtime::task_env env, runtime::worker& w, State&... state) {
        if constexpr (Engine == engine::lean) {
            Kind::spawn_lean(env, w, options_, state...);
        } else {
            Kind::spawn_asio(env, w, options_, state...);
        }
    }

    const options& options_;
    [[no_unique_address]] detail::worker_states<Kind> states_;
};

template <class Kind>
using lean_workload = workload<Kind, engine::lean>;
template <class Kind>
using asio_workload = workload<Kind, engine::asio>;

// The factory of `Kind` on `e`, reading `o` (which must outlive it).
template <class Kind>
std::unique_ptr<runtime::task_factory> make_workload(engine e, const typename Kind::options& o) {
    if (e == engine::asio) return std::make_unique<workload<Kind, engine::asio>>(o);
    return std::make_unique<workload<Kind, engine::lean>>(o);
}
template <class Kind>
std::unique_ptr<runtime::task_factory> make_workload(engine, typename Kind::options&&) = delete;

}  // namespace corostorm::workloads
