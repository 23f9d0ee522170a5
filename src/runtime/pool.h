// The io_context pool: N workers on N threads, in one of two layouts.
//
// Design note. per_thread: every worker owns an io_context and a thread runs
// it (no queue is shared, nothing is locked between workers). shared: one
// io_context that all N threads run; each worker's handlers and tasks go
// through a strand of it, so every resume passes the one shared scheduler
// queue. The pool owns the workers, the threads and (shared) the io_context.
// start() launches the threads; set_targets() fans target ramps out to every
// worker; stop() asks every worker to drain and waits up to a deadline,
// after which it aborts the stragglers (their suspended frames are destroyed
// with the workers). Shutdown order (shared): drain, stop the io_context,
// join, shut its services down (destroying pending handlers while the
// workers still exist), destroy the workers, then the io_context.
// The pool is driven from one control thread; its metric shards may be read
// from any thread at any time.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "runtime/target_ramp.h"
#include "runtime/worker.h"

namespace corostorm::runtime {

enum class layout { per_thread, shared };

class pool {
public:
    pool(unsigned threads, std::vector<task_factory*> workloads, worker_options options,
         runtime::layout l = runtime::layout::per_thread);
    ~pool();
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    void start();
    void set_targets(const std::vector<target_ramp>& totals);
    void set_sample_every(std::uint64_t every);  // every worker, see worker::set_sample_every
    // Drains every task; returns true if all workers drained within `timeout`
    // (false: they were aborted). Joins the threads either way. Idempotent.
    bool stop(std::chrono::nanoseconds timeout);

    bool running() const noexcept { return started_ && !stopped_; }
    unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()); }
    const worker& at(unsigned i) const noexcept { return *workers_[i]; }
    worker& at(unsigned i) noexcept { return *workers_[i]; }

private:
    // io_context with its service shutdown made callable, for the order above.
    struct shared_context : boost::asio::io_context {
        using boost::asio::execution_context::shutdown;
        using boost::asio::io_context::io_context;
    };

    std::unique_ptr<shared_context> shared_;  // before workers_: destroyed after them
    std::vector<std::unique_ptr<worker>> workers_;
    std::vector<std::thread> threads_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> keep_running_;
    bool started_ = false;
    bool stopped_ = false;
};

}  // namespace corostorm::runtime
