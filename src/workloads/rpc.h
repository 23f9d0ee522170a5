// The `rpc` workload: millions of calls in flight over a handful of shared
// loopback connections (the net/rpc and gRPC-client shape).
//
// Each task is one caller. Every `period` (schedule: deadline += period from
// a random first phase) it sends a request of `message` bytes over one of its
// worker's shared connections and parks until the reply arrives; then it
// records the round trip and sleeps again. A request is the caller's id
// (8 bytes), the time it was sent (8 bytes, the worker's clock) and 'c'
// bytes up to `message`; the server side echoes it.
//
// Design note. The connections are infrastructure of the worker, not tasks:
// `connections` in all, split over the workers (at least one each), each a
// client socket and, accepted by the worker's loopback listener, a server
// socket that echoes every byte it reads (a 64 KiB buffer, read again only
// once the buffer is written back). On the client side:
//   - a call links itself into the connection's send queue and parks; the
//     first call queued in a worker turn posts one flush, which serialises
//     every queued call into a 64 KiB write buffer and writes it with one
//     non-blocking write (writes are batched: many requests per write);
//     when the socket's buffer is full the rest waits for writability;
//   - serialised calls move, in order, to the in-flight queue; replies come
//     back in the order requests were written (one TCP stream, an echoing
//     server), so the reader parses each reply in place in its read buffer,
//     takes the in-flight queue's head, checks that the reply carries that
//     caller's id (a mismatch fails the connection: nothing is ever resumed
//     by a wrong id) and completes it. An out-of-order server would need a
//     map from id to caller; this one does not, and pays nothing for it.
// A parked caller therefore holds no socket, no buffer and no allocation:
// its call is a link inside its own frame. Lean callers are resumed by the
// reader at once (latency source io: resume minus the read that brought
// the reply, i.e. the replies parsed before it); asio callers park on an
// asio::experimental::channel per caller and are woken through it.
// Faults: a connection that fails (reset, protocol error, no descriptor)
// completes every queued and in-flight call as failed (outcome error) and
// is connected again on a later call, at most every 100 ms. A drain closes
// the listener and the connections and completes their calls as failed;
// the callers, told to retire, end cancelled.
// Thread-safety: a worker's connections and callers run on that worker.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/io.h"
#include "workloads/loopback.h"
#include "workloads/tunable.h"
#include "workloads/workload.h"

namespace corostorm::workloads {

struct rpc_options {
    tunable<std::uint64_t> period_ns = 1'000'000'000;  // read at every wake-up
    std::uint64_t message = 64;                        // bytes, 16 .. 65536
    std::uint64_t connections = 16;                    // in all, split over the workers
    // A reload's new values: the period (the rest shapes the connections).
    void retune(const rpc_options& o) noexcept { period_ns = o.period_ns; }
};

// Bytes at the head of every request and reply: caller id, send time.
inline constexpr std::size_t rpc_header_bytes = 16;

namespace detail {
class echo_stream;     // the server end of a shared connection
class rpc_connection;  // the client end
}  // namespace detail

// A worker's part of the workload: its share of the connections (at least
// one), the listener their server ends come from, and the registry of the
// asio callers' timers.
struct rpc_worker {
    rpc_worker(runtime::worker& w, std::uint16_t workload_index, const rpc_options& o, unsigned workers);
    ~rpc_worker();
    rpc_worker(const rpc_worker&) = delete;
    rpc_worker& operator=(const rpc_worker&) = delete;
    // The next connection, round robin.
    detail::rpc_connection& pick() noexcept;
    // The worker drains: close the listener and the connections (their calls
    // complete as failed) and cancel the callers' timers.
    void stop() noexcept;

    runtime::worker& worker;
    std::uint16_t workload;
    std::size_t message;
    bool closed = false;
    loopback_listeners listener;
    std::vector<std::unique_ptr<detail::echo_stream>> streams;
    std::vector<std::unique_ptr<detail::rpc_connection>> connections;
    unsigned next = 0;
    runtime::io_registry registry;
};

// The rpc workload for workloads/workload.h: a unit is one caller; each
// worker's connections are its rpc_worker.
struct rpc_callers {
    using options = rpc_options;
    using state = rpc_worker;
    static void spawn_lean(runtime::task_env env, runtime::worker& w, const options& o, state& rw);
    static void spawn_asio(runtime::task_env env, runtime::worker& w, const options& o, state& rw);
};

}  // namespace corostorm::workloads
