// The io_context pool: N workers, one thread each (runtime.layout = per_thread).
//
// Design note. The pool owns the workers and their threads. start() launches
// the threads; set_targets() fans a new set of ramps out to every worker;
// stop() asks every worker to drain and waits up to a deadline, after which
// it aborts the stragglers (their suspended frames are destroyed with the
// workers). The pool is driven from one control thread (the daemon's);
// its metric shards may be read from any thread at any time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/worker.h"

namespace corostorm::runtime {

class pool {
public:
    pool(unsigned threads, std::vector<task_factory*> workloads, worker_options options);
    ~pool();
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    void start();
    void set_targets(const std::vector<target_ramp>& totals);
    // Drains every task; returns true if all workers drained within `timeout`
    // (false: they were aborted). Joins the threads either way. Idempotent.
    bool stop(std::chrono::nanoseconds timeout);

    bool running() const noexcept { return started_ && !stopped_; }
    unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()); }
    const worker& at(unsigned i) const noexcept { return *workers_[i]; }

private:
    std::vector<std::unique_ptr<worker>> workers_;
    std::vector<std::thread> threads_;
    bool started_ = false;
    bool stopped_ = false;
};

}  // namespace corostorm::runtime
