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

#include "runtime/task_factory.h"
#include "workloads/tunable.h"

namespace corostorm::workloads {

struct rpc_options {
    tunable<std::uint64_t> period_ns = 1'000'000'000;  // read at every wake-up
    std::uint64_t message = 64;                        // bytes, 16 .. 65536
    std::uint64_t connections = 16;                    // in all, split over the workers
};

// Bytes at the head of every request and reply: caller id, send time.
inline constexpr std::size_t rpc_header_bytes = 16;

namespace detail {
struct rpc_worker;
}

class rpc_workload_base : public runtime::task_factory {
public:
    explicit rpc_workload_base(rpc_options options);
    ~rpc_workload_base() override;
    void prepare(unsigned workers) override;
    void on_worker_stop(runtime::worker& w) override;
    void on_worker_exit(runtime::worker& w) noexcept override;
    void retune(const rpc_options& options) noexcept { options_.period_ns = options.period_ns; }

protected:
    detail::rpc_worker& at(runtime::worker& w, std::uint16_t workload);
    rpc_options options_;
    unsigned workers_count_ = 1;
    std::vector<std::unique_ptr<detail::rpc_worker>> workers_;
};

class rpc_workload final : public rpc_workload_base {
public:
    using rpc_workload_base::rpc_workload_base;
    void spawn(runtime::task_env env, runtime::worker& w) override;
};

class asio_rpc_workload final : public rpc_workload_base {
public:
    using rpc_workload_base::rpc_workload_base;
    void spawn(runtime::task_env env, runtime::worker& w) override;
};

}  // namespace corostorm::workloads
