#include "runtime/pool.h"

#include "runtime/run_loop.h"
#include "runtime/task_factory.h"

#include <pthread.h>

#include <string>

namespace corostorm::runtime {

namespace {

void name_thread(unsigned index) {
    const std::string name = "worker-" + std::to_string(index);
    pthread_setname_np(pthread_self(), name.c_str());
}

}  // namespace

pool::pool(unsigned threads, std::vector<task_factory*> workloads, worker_options options,
           runtime::layout l) {
    if (l == runtime::layout::shared) shared_ = std::make_unique<shared_context>(static_cast<int>(threads));
    for (task_factory* f : workloads) f->prepare(threads);
    workers_.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) {
        workers_.push_back(std::make_unique<worker>(i, threads, workloads, options, shared_.get()));
    }
}

pool::~pool() {
    stop(std::chrono::seconds(0));
    if (shared_) shared_->shutdown();
}

void pool::start() {
    if (started_) return;
    started_ = true;
    if (shared_) {
        keep_running_.emplace(shared_->get_executor());
        for (auto& w : workers_) w->start_on_shared();
        for (unsigned i = 0; i < workers_.size(); ++i) {
            threads_.emplace_back([this, i] {
                name_thread(i);
                workers_[i]->bind_busy_slot();
                run_surviving_out_of_memory(*shared_);
            });
        }
        return;
    }
    for (auto& w : workers_) {
        threads_.emplace_back([&w = *w] {
            name_thread(w.index());
            w.run();
        });
    }
}

void pool::set_targets(const std::vector<target_ramp>& totals) {
    for (auto& w : workers_) w->set_targets(totals);
}

void pool::set_sample_every(std::uint64_t every) {
    for (auto& w : workers_) w->set_sample_every(every);
}

bool pool::stop(std::chrono::nanoseconds timeout) {
    if (stopped_) return true;
    stopped_ = true;
    if (!started_) return true;
    for (auto& w : workers_) w->request_stop();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool drained = true;
    for (auto& w : workers_) {
        while (!w->finished() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (!w->finished()) {
            drained = false;
            w->abort();
        }
    }
    // Every worker has finished (or been abandoned): nothing left to run.
    if (shared_) {
        keep_running_.reset();
        shared_->stop();
    }
    for (auto& t : threads_) t.join();
    return drained;
}

}  // namespace corostorm::runtime
