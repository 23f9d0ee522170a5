// The `echo` workload: a loopback TCP connection per unit, held by two
// tasks, the way Go servers are written (a goroutine per connection end).
//
// A unit is a client task and the server's handler task for its
// connection, both in this process, both on the spawning worker's
// io_context (Asio's reactor). The client connects to one of its worker's
// listeners (127.0.0.1, ports chosen by the kernel, several per worker so
// that ephemeral ports never run out), then every `period` (schedule:
// deadline += period from a random first phase) sends `message` bytes,
// waits for all of them to come back and records the round trip. The
// handler, spawned by the listener when it accepts, echoes whatever arrives.
// A unit holds 2 descriptors and counts as 2 tasks.
// Messages are `message` bytes of 'c'; the client checks every byte it gets
// back (anything else ends it with outcome error). Because the bytes are
// known, a handler whose peer is slow to read re-sends what it could not
// write at once from a constant buffer: a parked connection holds no buffer.
// Ending: a client told to retire closes its socket; its handler reads the
// end of the stream and ends (outcome cancelled). A reset or any other
// socket error ends a task with outcome error; descriptor exhaustion at
// connect or accept is an error outcome too, never a crash. When its worker
// drains, the listeners close and every socket wait is cancelled.
//
// Lean engine: the tasks wait on socket readiness through runtime/io.h and
// read into a per-worker scratch buffer, so a waiting task holds nothing but
// its frame and its socket. Asio engine: asio::awaitable tasks with
// async_read / async_write on a per-connection std::vector buffer, as an
// Asio user writes an echo client and server.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/io.h"
#include "workloads/loopback.h"
#include "workloads/tunable.h"
#include "workloads/workload.h"

namespace corostorm::workloads {

struct echo_options {
    tunable<std::uint64_t> period_ns = 10'000'000'000;  // read at every wake-up
    std::uint64_t message = 64;                         // bytes, 1 .. 65536
    // A reload's new values: the period (the message size shapes buffers).
    void retune(const echo_options& o) noexcept { period_ns = o.period_ns; }
};

// Listeners per worker: each listening port gives a client address ~28k
// ephemeral ports, so 4 ports cover far more connections than a process can
// hold descriptors for on ordinary limits.
inline constexpr unsigned echo_listeners_per_worker = 4;

// A worker's part of the workload: its listeners, the registry of its
// sockets (a drain cancels them) and the scratch buffer lean tasks read into.
struct echo_worker {
    echo_worker(runtime::worker& w, std::uint16_t workload_index, const echo_options& o, unsigned workers);
    ~echo_worker();
    echo_worker(const echo_worker&) = delete;
    echo_worker& operator=(const echo_worker&) = delete;
    // The worker drains: stop accepting and cancel every socket wait.
    void stop() noexcept;

    runtime::worker& worker;
    std::uint16_t workload;
    const echo_options* options;  // the workload's, tunable by a reload
    loopback_listeners listeners;
    runtime::io_registry registry;
    bool draining = false;      // a drain cancels the sockets: what fails then was ended, not failed
    std::vector<char> scratch;  // lean tasks read here: a waiting task holds no buffer
};

// The echo workload for workloads/workload.h: a unit is 2 tasks on 2
// descriptors; each worker's listeners are its echo_worker.
struct echo_connections {
    using options = echo_options;
    using state = echo_worker;
    static constexpr std::uint64_t fds_per_unit = 2;
    static std::uint64_t tasks_per_unit(const options&) noexcept { return 2; }
    static void spawn_lean(runtime::task_env env, runtime::worker& w, const options& o, state& ew);
    static void spawn_asio(runtime::task_env env, runtime::worker& w, const options& o, state& ew);
};

}  // namespace corostorm::workloads
