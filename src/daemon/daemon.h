// The daemon: the one module that knows all the others.
//
// Design note (lifecycle). run() builds everything from a validated config
// and owns it until it returns:
//   1. logging; thread count (runtime.threads, or the CPUs the process may use);
//   2. the HTTP server is bound first, so a taken port fails fast (exit 1)
//      before any task exists;
//   3. the workload factories, the pool and the exporter are built, and the
//      memory baselines (resident, heap) read before the first spawn, by an
//      `assembly` (daemon/assembly.h), the same wiring `prove` uses;
//   4. the worker pool starts; the scenario timeline feeds it target ramps
//      from the control thread (the caller's thread), which also handles
//      signals and logs progress;
//   5. SIGHUP reads the config source again (daemon/reload.h says which keys
//      apply live); an invalid file changes nothing;
//   6. SIGTERM/SIGINT: every worker drains its tasks (bounded by
//      drain_timeout; stragglers are aborted and their frames destroyed),
//      then the server stops and run() returns 0. A second signal while
//      draining exits at once with status 1.
// Shutdown order is the reverse of start-up: pool, then server, then logs.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace corostorm::daemon {

// Where the running config came from, so that SIGHUP can read it again:
// the file (empty: built-in defaults, nothing to reload) and the --set
// overrides, applied again on top of the file at every reload.
struct config_source {
    std::string file;
    std::vector<std::string> overrides;
};

// Runs until a termination signal; returns the process exit code.
int run(const config::config& cfg, config_source source = {});

}  // namespace corostorm::daemon
