// What a config reload (SIGHUP) changes in a running daemon.
//
// Design note. Some keys shape what was built at start-up and cannot change
// under it: the listen address, the log format, runtime.* (threads, engine,
// layout), memory.* (the guard's limit), and the workloads' structure (their
// count, names and kinds, the parameters that size a unit: ring_size,
// fanout, depth, and those that shape what a workload opens at start-up:
// message of echo and rpc, connections of rpc). A reload that changes one of
// those keeps its running value and reports it as needing a restart.
// Everything else applies live: the scenario (stages, repeat, weights: the
// scenario starts again from its first stage, ramping from the target in
// force), the workloads' other parameters (tasks see them at their next
// wake-up or yield), the latency sampling and the log level. Planning is a
// pure function, so it is tested without a daemon.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace corostorm::daemon {

struct reload_plan {
    // The config to run from now on: the new file, with every restart-only
    // key at its running value.
    config::config effective;
    // One entry per restart-only key that changed, e.g. "runtime.threads (2 -> 4)".
    std::vector<std::string> restart_needed;
    // One entry per live key that changed, e.g. "latency.sample_every (1 -> 10)".
    std::vector<std::string> applied;
    bool scenario_changed = false;  // stages, repeat or a weight
    bool params_changed = false;    // a workload's live parameters
    bool sampling_changed = false;
    bool log_level_changed = false;
};

reload_plan plan_reload(const config::config& running, const config::config& fresh);

}  // namespace corostorm::daemon
