// The Go peer beside `corostorm prove --against-go`: bench/peers/go runs
// corostorm's workloads as goroutines and prints a prove report with the same
// JSON keys. This module finds or builds it and runs it.
//
// Design note. Everything is decided before the proof starts: where the peer
// comes from (--go-peer PATH, or built from the sources with the `go` tool
// found in PATH) and whether it can run the workload at all; a missing `go`
// is a usage error that says how to install it. Building and running start
// the programs directly with posix_spawn (no shell, no system()/popen): the
// arguments are passed as they are, the child's signal mask and the
// dispositions of SIGINT, SIGTERM and SIGPIPE are reset to the defaults.
// The peer is built into a cache directory ($XDG_CACHE_HOME/corostorm, else
// ~/.cache/corostorm), with GOCACHE and GOPATH there unless the environment
// sets them, and no network (GOPROXY=off); go build is incremental, so a
// rebuild with nothing changed takes well under a second. The peer's stdout
// (its JSON report) is captured; its stderr (progress) is the caller's.
// Thread-safety: call from one thread; each call blocks until its child ends.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"

namespace corostorm::prove {

struct go_peer {
    std::string binary;      // the peer to run
    std::string go;          // the go tool that builds it; empty when --go-peer gave the binary
    std::string source_dir;  // its sources (when built)
    std::string cache_dir;   // the binary, and GOCACHE and GOPATH unless set, live here (when built)
};

// Checks that the peer can run `cfg`'s one workload like corostorm does and
// finds where the peer comes from. `explicit_path` is --go-peer (may be
// empty). Throws usage_error (prove/flags.h) with what to do: install golang-go,
// pass --go-peer, pick a workload the peer has.
go_peer locate_go_peer(const config::config& cfg, const std::string& explicit_path);

// Builds the peer when it comes from sources; go build's output goes to
// stderr. Throws std::runtime_error when the build cannot start or fails.
void build_go_peer(const go_peer& peer);

// The peer's command line for a prove run of `cfg`'s workload.
std::vector<std::string> go_peer_prove_args(const config::workload_config& w, std::uint64_t tasks,
                                            unsigned threads, config::duration limit);

struct peer_result {
    int exit_code = 0;   // the peer's, or 128 + the signal that ended it
    std::string output;  // its stdout
};

// Runs the peer to its end. Throws std::runtime_error when it cannot start.
peer_result run_go_peer(const go_peer& peer, const std::vector<std::string>& args);

}  // namespace corostorm::prove
