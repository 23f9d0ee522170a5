#include "workloads/spawn_tree.h"

#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>
#include <vector>

#include "runtime/asio_task.h"
#include "runtime/awaiters.h"
#include "runtime/join.h"
#include "runtime/worker.h"
#include "workloads/yield.h"

namespace corostorm::workloads {

namespace {

std::uint64_t leaves(const spawn_tree_options& o) noexcept {
    std::uint64_t n = 1;
    for (std::uint64_t i = 0; i < o.depth; ++i) n *= o.fanout;
    return n;
}

runtime::task tree_node(runtime::task_env env, runtime::join_counter* parent, const spawn_tree_options& o,
                        std::uint64_t levels_below, std::uint64_t index) {
    std::uint64_t result = index;
    if (levels_below > 0) {
        runtime::join_counter join(o.fanout);
        for (std::uint64_t k = 0; k < o.fanout; ++k) {
            tree_node(env, &join, o, levels_below - 1, index * o.fanout + k);
        }
        result = co_await join.wait();
    }
    parent->child_done(result);
    co_return runtime::task_outcome::ok;
}

runtime::task tree_root(runtime::task_env env, const spawn_tree_options& o) {
    const std::uint64_t expected = tree_sum(o);
    for (;;) {
        runtime::join_counter join(o.fanout);
        // Nodes may queue: a tree beyond the worker's turn budget continues
        // through the ready queue, in turns like every other task's.
        for (std::uint64_t k = 0; k < o.fanout; ++k) tree_node(env.queued_child(), &join, o, o.depth - 1, k);
        if (co_await join.wait() != expected) throw std::logic_error("spawn_tree: wrong sum");
        if (runtime::this_worker().should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
        co_await runtime::yield_now{};  // one tree per turn: let the worker's other tasks run
    }
}

namespace asio = boost::asio;

asio::awaitable<std::uint64_t> asio_tree_node(runtime::task_env env, runtime::worker& w,
                                              const spawn_tree_options& o, std::uint64_t levels_below,
                                              std::uint64_t index);

// Spawns the children of node `index` and returns the sum of their subtrees.
asio::awaitable<std::uint64_t> asio_subtrees(runtime::task_env env, runtime::worker& w,
                                             const spawn_tree_options& o, std::uint64_t levels_below,
                                             std::uint64_t index) {
    auto executor = co_await asio::this_coro::executor;
    using child_op = decltype(asio::co_spawn(executor, asio_tree_node(env, w, o, 0, 0), asio::deferred));
    std::vector<child_op> children;
    children.reserve(o.fanout);
    for (std::uint64_t k = 0; k < o.fanout; ++k) {
        children.push_back(asio::co_spawn(
            executor, asio_tree_node(env, w, o, levels_below - 1, index * o.fanout + k), asio::deferred));
    }
    auto [order, errors, sums] = co_await asio::experimental::make_parallel_group(std::move(children))
                                     .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    std::uint64_t total = 0;
    for (std::size_t k = 0; k < sums.size(); ++k) {
        if (errors[k]) std::rethrow_exception(errors[k]);
        total += sums[k];
    }
    co_return total;
}

// One node below the root: a task of its own, counted while it lives.
asio::awaitable<std::uint64_t> asio_tree_node(runtime::task_env env, runtime::worker& w,
                                              const spawn_tree_options& o, std::uint64_t levels_below,
                                              std::uint64_t index) {
    runtime::asio_task_guard counted(w, env);
    if (levels_below == 0) co_return index;
    co_return co_await asio_subtrees(env, w, o, levels_below, index);
}

asio::awaitable<runtime::task_outcome> asio_tree_root(runtime::task_env env, runtime::worker& w,
                                                      const spawn_tree_options& o) {
    const std::uint64_t expected = tree_sum(o);
    for (;;) {
        if (co_await asio_subtrees(env.child(), w, o, o.depth, 0) != expected) {
            throw std::logic_error("spawn_tree: wrong sum");
        }
        if (w.should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
        co_await asio_yield(env, w);
    }
}

}  // namespace

std::uint64_t tree_tasks(const spawn_tree_options& o) noexcept {
    std::uint64_t total = 0;
    std::uint64_t level = 1;
    for (std::uint64_t i = 0; i <= o.depth; ++i) {
        total += level;
        level *= o.fanout;
    }
    return total;
}

std::uint64_t tree_sum(const spawn_tree_options& o) noexcept {
    const std::uint64_t n = leaves(o);
    return n % 2 == 0 ? (n / 2) * (n - 1) : n * ((n - 1) / 2);
}

void spawn_trees::spawn_asio(runtime::task_env env, runtime::worker& w, const options& o) {
    runtime::asio_spawn(w, env, asio_tree_root(env, w, o));
}

void spawn_trees::spawn_lean(runtime::task_env env, runtime::worker&, const options& o) { tree_root(env, o); }

}  // namespace corostorm::workloads
