#include "runtime/pool.h"

#include <pthread.h>

#include <string>

namespace corostorm::runtime {

pool::pool(unsigned threads, std::vector<task_factory*> workloads, worker_options options) {
    workers_.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) {
        workers_.push_back(std::make_unique<worker>(i, threads, workloads, options));
    }
}

pool::~pool() { stop(std::chrono::seconds(0)); }

void pool::start() {
    if (started_) return;
    started_ = true;
    for (auto& w : workers_) {
        threads_.emplace_back([&w = *w] {
            const std::string name = "worker-" + std::to_string(w.index());
            pthread_setname_np(pthread_self(), name.c_str());
            w.run();
        });
    }
}

void pool::set_targets(const std::vector<target_ramp>& totals) {
    for (auto& w : workers_) w->set_targets(totals);
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
    for (auto& t : threads_) t.join();
    return drained;
}

}  // namespace corostorm::runtime
