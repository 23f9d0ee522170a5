// The task factory: what a workload gives the runtime. The pool and its
// workers know workloads only through this interface, which the workloads
// implement with one template (workloads/workload.h) per kind and engine.
//
// Design note. The worker calls spawn() from its control tick, on its own
// thread (or strand), once per unit it adds: one virtual call per unit, and
// the unit's frames are the only allocation. The other hooks run on the
// threads their comments name. Lifetime: the factories outlive the pool and
// every worker that calls them (the assembly stops and destroys the pool
// before them); a worker holds plain pointers to them. The worker is only
// forward-declared here: a factory that calls into it includes
// runtime/worker.h itself.
#pragma once

#include <cstdint>

#include "runtime/task.h"

namespace corostorm::runtime {

class worker;

// What a workload gives the runtime: a way to start one unit of it (a task,
// a ring, a tree) on the calling worker.
class task_factory {
public:
    virtual ~task_factory() = default;
    virtual void spawn(task_env env, worker& w) = 0;
    // How many tasks of the target one unit stands for (a ring: its size).
    virtual std::uint64_t tasks_per_unit() const noexcept { return 1; }
    // File descriptors one unit holds while it lives (echo: its connection's two ends).
    virtual std::uint64_t fds_per_unit() const noexcept { return 0; }
    // Workloads with per-worker state (listeners, shared connections) set it up
    // here. prepare(): control thread, once, before any worker runs;
    // on_worker_start(): the worker's thread, before its first spawn;
    // on_worker_stop(): the worker's thread, when it begins to drain. Work
    // done here is the workload's infrastructure, not tasks: it is not counted
    // in the spawn scope, and it must not keep the worker from draining.
    virtual void prepare(unsigned /*workers*/) {}
    virtual void on_worker_start(worker&) {}
    virtual void on_worker_stop(worker&) {}
    // The worker is being destroyed (after a drain, or aborted): release what
    // on_worker_start made for it while its io_context still exists.
    virtual void on_worker_exit(worker&) noexcept {}
};

}  // namespace corostorm::runtime
