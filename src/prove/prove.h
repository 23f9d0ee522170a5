// `corostorm prove`: a one-shot run for people without Prometheus at hand.
// It spawns a number of tasks of one workload as fast as the workers can,
// measures the runtime holding them for a short window, drains, and prints a
// report (a table, or one JSON object) on stdout.
//
// Design note (phases). The config is the user's (defaults or -c, plus --set)
// with the scenario replaced by one stage `prove` {tasks: N, over: 0s} and the
// workloads by a single entry of the chosen kind; the HTTP server is not
// started. The pool and its baselines are built by the same `assembly` as the
// daemon's. Then, on the calling thread:
//   1. spawning: poll the shards every 1 ms until the target is reached, the
//      time limit (--duration) passes, spawning fails for lack of memory
//      (spawn failures and no progress for a second) or SIGINT/SIGTERM arrives;
//      progress goes to stderr (one line redrawn in place on a terminal,
//      a plain line every 2 s otherwise);
//   2. measuring (only when reached): a window of min(5 s, time left); resumes
//      and latency are the difference of two snapshots, so they cover the
//      window only, not the spawning;
//   3. draining: the pool stops (bounded by drain_timeout) and the report is
//      printed. Exit 0 when the target was reached and measured, 1 otherwise.
// With --against-go the Go peer (prove/peer.h) is built before phase 1 and
// run after phase 3 with the same tasks, workload, threads and time limit; its
// report becomes the table's `go` column and the JSON's "go" object, and the
// exit code is 0 only when both sides reached and measured.
// A second SIGINT/SIGTERM exits at once with status 1.
#pragma once

#include "config/config.h"
#include "prove/flags.h"

namespace corostorm::prove {

struct go_peer;

// Runs the proof on the calling thread; progress on stderr, the report on
// stdout. Returns the exit code: 0 reached and measured, 1 otherwise. With a
// `peer` (from locate_go_peer), also builds and runs the Go peer.
int prove(const config::config& cfg, const prove_options& options, const go_peer* peer = nullptr);

}  // namespace corostorm::prove
