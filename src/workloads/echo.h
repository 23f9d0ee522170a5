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
#include <memory>
#include <vector>

#include "runtime/task_factory.h"
#include "workloads/tunable.h"

namespace corostorm::workloads {

struct echo_options {
    tunable<std::uint64_t> period_ns = 10'000'000'000;  // read at every wake-up
    std::uint64_t message = 64;                         // bytes, 1 .. 65536
};

// Listeners per worker: each listening port gives a client address ~28k
// ephemeral ports, so 4 ports cover far more connections than a process can
// hold descriptors for on ordinary limits.
inline constexpr unsigned echo_listeners_per_worker = 4;

namespace detail {
struct echo_worker;  // per worker: listeners, the io registry, the scratch buffer
}

class echo_workload_base : public runtime::task_factory {
public:
    explicit echo_workload_base(echo_options options);
    ~echo_workload_base() override;
    std::uint64_t tasks_per_unit() const noexcept override { return 2; }
    std::uint64_t fds_per_unit() const noexcept override { return 2; }
    void prepare(unsigned workers) override;
    void on_worker_stop(runtime::worker& w) override;
    void on_worker_exit(runtime::worker& w) noexcept override;
    void retune(const echo_options& options) noexcept { options_.period_ns = options.period_ns; }

protected:
    // This worker's state, made with its listeners on first use.
    detail::echo_worker& at(runtime::worker& w, std::uint16_t workload);
    echo_options options_;
    std::vector<std::unique_ptr<detail::echo_worker>> workers_;
};

class echo_workload final : public echo_workload_base {
public:
    using echo_workload_base::echo_workload_base;
    void spawn(runtime::task_env env, runtime::worker& w) override;
};

class asio_echo_workload final : public echo_workload_base {
public:
    using echo_workload_base::echo_workload_base;
    void spawn(runtime::task_env env, runtime::worker& w) override;
};

}  // namespace corostorm::workloads
