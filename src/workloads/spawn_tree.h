// The `spawn_tree` workload (skynet): a root spawns `fanout` children, each
// of them `fanout` more, down to `depth` levels; every leaf returns its
// index, every parent awaits its children and returns the sum. With fanout 10
// and depth 6 that is 1,111,111 tasks and a root sum of 499999500000, which
// the root checks (a wrong sum ends it with an error). Measures spawn and join.
//
// A tree is one unit of the target (tree_tasks() tasks): the workload runs as
// many trees at once as its share of the target holds, each root repeating
// its tree until it is told to retire. Lean tasks start eagerly, so a tree
// runs depth first: only one path of it (about depth x fanout frames) is
// alive at a time, and a whole tree runs within one turn of its worker.
#pragma once

#include <cstdint>

#include "workloads/workload.h"

namespace corostorm::workloads {

struct spawn_tree_options {
    std::uint64_t fanout = 10;
    std::uint64_t depth = 6;
    void retune(const spawn_tree_options&) noexcept {}  // nothing is live
};

// Tasks in one tree, root included: 1 + fanout + ... + fanout^depth.
std::uint64_t tree_tasks(const spawn_tree_options& o) noexcept;
// What the root must sum to: the leaves are numbered 0 .. fanout^depth - 1.
std::uint64_t tree_sum(const spawn_tree_options& o) noexcept;

// The spawn_tree workload for workloads/workload.h. Its parameters shape the
// unit, so a reload does not change them (a restart does).
//
// On the asio engine every node co_spawns its children and awaits them all
// with experimental::make_parallel_group. Children are posted, not run
// eagerly, so a whole tree is alive at once.
struct spawn_trees {
    using options = spawn_tree_options;
    static std::uint64_t tasks_per_unit(const options& o) noexcept { return tree_tasks(o); }
    static void spawn_lean(runtime::task_env env, runtime::worker& w, const options& o);
    static void spawn_asio(runtime::task_env env, runtime::worker& w, const options& o);
};

}  // namespace corostorm::workloads
