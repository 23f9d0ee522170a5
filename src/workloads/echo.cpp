#include "workloads/echo.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>

#include "runtime/asio_task.h"
#include "runtime/awaiters.h"
#include "runtime/clock.h"
#include "runtime/io.h"
#include "runtime/worker.h"
#include "workloads/loopback.h"

namespace corostorm::workloads {

namespace asio = boost::asio;
using runtime::tcp;
using error_code = boost::system::error_code;

echo_worker::echo_worker(runtime::worker& w, std::uint16_t workload_index, const echo_options& o, unsigned)
    : worker(w),
      workload(workload_index),
      options(&o),
      listeners(w, echo_listeners_per_worker),
      scratch(max_message) {}

echo_worker::~echo_worker() = default;

void echo_worker::stop() noexcept {
    draining = true;
    listeners.close();
    registry.cancel_all();
}

namespace {

// How a task's socket error ends it: the peer's orderly close or a drain's
// cancellation is the end of the unit (cancelled); anything else is an error.
runtime::task_outcome outcome_of(const error_code& ec) noexcept {
    if (ec == asio::error::eof || ec == asio::error::operation_aborted)
        return runtime::task_outcome::cancelled;
    return runtime::task_outcome::error;
}

bool all_pattern(const char* data, std::size_t n) noexcept {
    return std::memcmp(data, message_pattern().data(), n) == 0;
}

// A drain cancels every socket and closes connections under tasks that were
// mid-message (a close with unread data is a reset): what fails then was
// ended by the drain, not by a fault.
runtime::task_outcome ended(const echo_worker& ew, runtime::task_outcome o) noexcept {
    return ew.draining ? runtime::task_outcome::cancelled : o;
}

void record_round_trip(runtime::worker& w, std::uint16_t workload, std::uint64_t sent_ns) noexcept {
    auto& stats = w.stats(workload);
    stats.round_trips.add(1);
    if (w.sample_latency()) stats.round_trip.record(runtime::now_ns() - sent_ns);
}

// Counts the connection of a unit in its workload's gauge while it is open.
class connection_count {
public:
    explicit connection_count(metrics::owned_value& gauge) noexcept : gauge_(gauge) { gauge_.add(1); }
    ~connection_count() { gauge_.sub(1); }
    connection_count(const connection_count&) = delete;
    connection_count& operator=(const connection_count&) = delete;

private:
    metrics::owned_value& gauge_;
};

// ---- lean ----
// Frame size matters here (it is most of a connection's user-space cost).
// GCC keeps every local of a coroutine in its frame and gives every co_await
// expression a slot of its own, so the socket work is done by the plain
// functions below (their locals live on the stack), each task waits through
// one wait_for expression whatever the direction, and only an errno value
// lives across a suspension.

// Where a non-blocking step left a connection.
enum class progress : std::uint8_t { wait_read, wait_write, done, closed, failed };

runtime::task_outcome outcome_of(progress p) noexcept {
    return p == progress::closed ? runtime::task_outcome::cancelled : runtime::task_outcome::error;
}
runtime::task_outcome outcome_of_errno(int error) noexcept {
    return outcome_of(error_code(error, boost::system::system_category()));
}
progress failure(const error_code& ec) noexcept {
    return outcome_of(ec) == runtime::task_outcome::cancelled ? progress::closed : progress::failed;
}

// The client's side of one message: bytes written and read back so far.
struct exchange {
    std::uint32_t written = 0;
    std::uint32_t received = 0;
};

// Writes what is left of the message, then reads the echo, until done or
// the socket would block. `may_read`: false right after the last write, when
// the echo cannot be there yet (saves a read that would fail).
progress advance(runtime::lean_socket& socket, exchange& x, std::uint32_t message, char* scratch,
                 bool may_read) {
    error_code ec;
    while (x.written < message) {
        const std::size_t n =
            socket.write_some(asio::buffer(message_pattern().data(), message - x.written), ec);
        if (ec == asio::error::would_block) return progress::wait_write;
        if (ec) return failure(ec);
        x.written += static_cast<std::uint32_t>(n);
        may_read = false;
    }
    if (!may_read) return progress::wait_read;
    while (x.received < message) {
        const std::size_t n = socket.read_some(asio::buffer(scratch, message - x.received), ec);
        if (ec == asio::error::would_block) return progress::wait_read;
        if (ec) return failure(ec);
        if (!all_pattern(scratch, n)) return progress::failed;
        x.received += static_cast<std::uint32_t>(n);
    }
    return progress::done;
}

// The handler's step: reads and writes back until the socket would block.
// `owed`: bytes read and not yet written back. Bytes owed from an earlier
// step are the pattern's (another task may have reused the scratch buffer
// meanwhile; see echo.h).
progress echo_back(runtime::lean_socket& socket, std::uint32_t& owed, char* scratch,
                   std::size_t scratch_size) {
    error_code ec;
    const char* from = message_pattern().data();
    for (;;) {
        if (owed == 0) {
            const std::size_t n = socket.read_some(asio::buffer(scratch, scratch_size), ec);
            if (ec == asio::error::would_block) return progress::wait_read;
            if (ec) return failure(ec);
            owed = static_cast<std::uint32_t>(n);
            from = scratch;
        }
        const std::size_t n = socket.write_some(asio::buffer(from, owed), ec);
        if (ec == asio::error::would_block) return progress::wait_write;
        if (ec) return failure(ec);
        owed -= static_cast<std::uint32_t>(n);
        from += n;
    }
}

// Opens `socket` and starts connecting it: 0, EINPROGRESS, or an errno value.
int open_and_connect(runtime::lean_socket& socket, const tcp::endpoint& peer) {
    error_code ec;
    socket.open(tcp::v4(), ec);
    if (!ec) socket.non_blocking(true, ec);
    if (!ec) socket.set_option(tcp::no_delay(true), ec);
    return ec ? ec.value() : runtime::start_connect(socket, peer);
}

// The client needs no io_link: a drain wakes it from the timer wheel, and
// while it waits on its socket, its handler (which has a link) is cancelled
// and closes its end, or the listener's close resets a connection not yet
// accepted: either completes the client's wait.
runtime::task echo_client(runtime::task_env env, echo_worker* ew) {
    const echo_options* options = ew->options;
    runtime::lean_socket socket(ew->worker.context());
    int error = open_and_connect(socket, ew->listeners.next_endpoint());
    if (error == EINPROGRESS) {
        error = co_await runtime::wait_for(socket, tcp::socket::wait_write);
        if (error == 0) error = runtime::connect_result(socket);
    }
    if (error != 0) co_return ended(*ew, outcome_of_errno(error));
    connection_count open(ew->worker.stats(env.workload).connections);
    std::uint64_t deadline = ew->worker.clock_ns() + ew->worker.random() % options->period_ns;
    for (;;) {
        co_await runtime::sleep_until{deadline};
        if (ew->worker.should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
        const std::uint64_t sent_ns = runtime::now_ns();
        exchange x;
        for (bool may_read = false;; may_read = true) {
            const progress p = advance(socket, x, static_cast<std::uint32_t>(options->message),
                                       ew->scratch.data(), may_read);
            if (p == progress::done) break;
            if (p != progress::wait_read && p != progress::wait_write) co_return ended(*ew, outcome_of(p));
            error = co_await runtime::wait_for(
                socket, p == progress::wait_read ? tcp::socket::wait_read : tcp::socket::wait_write);
            if (error != 0) co_return ended(*ew, outcome_of_errno(error));
        }
        record_round_trip(ew->worker, env.workload, sent_ns);
        deadline += options->period_ns;
    }
}

runtime::task echo_handler(runtime::task_env, runtime::lean_socket socket, echo_worker* ew) {
    runtime::io_link link(ew->registry, socket);
    if (!runtime::set_non_blocking(socket)) co_return runtime::task_outcome::error;
    std::uint32_t owed = 0;
    for (;;) {
        const progress p = echo_back(socket, owed, ew->scratch.data(), ew->scratch.size());
        if (p != progress::wait_read && p != progress::wait_write) co_return ended(*ew, outcome_of(p));
        const int error = co_await runtime::wait_for(
            socket, p == progress::wait_read ? tcp::socket::wait_read : tcp::socket::wait_write);
        if (error != 0) co_return ended(*ew, outcome_of_errno(error));
    }
}

// ---- asio ----

asio::awaitable<runtime::task_outcome> asio_echo_client(runtime::task_env env, echo_worker* ew,
                                                        const echo_options& options, tcp::endpoint peer) {
    runtime::worker& w = ew->worker;
    tcp::socket socket(w.executor());
    asio::steady_timer timer(w.executor());
    runtime::io_link socket_link(ew->registry, socket);
    runtime::io_link timer_link(ew->registry, timer);
    auto [ec] = co_await socket.async_connect(peer, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return ended(*ew, outcome_of(ec));
    connection_count open(w.stats(env.workload).connections);
    socket.set_option(tcp::no_delay(true), ec);
    if (ec) co_return runtime::task_outcome::error;
    std::vector<char> out(options.message, message_pattern()[0]);
    std::vector<char> in(options.message);
    std::uint64_t deadline = runtime::now_ns() + w.random() % options.period_ns;
    for (;;) {
        timer.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline)));
        if (auto [timer_ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable)); timer_ec) {
            co_return runtime::task_outcome::cancelled;  // the drain cancelled the wait
        }
        runtime::asio_timer_woke(w, env.workload, deadline);
        if (w.should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
        const std::uint64_t sent_ns = runtime::now_ns();
        if (auto [write_ec, n] =
                co_await asio::async_write(socket, asio::buffer(out), asio::as_tuple(asio::use_awaitable));
            write_ec) {
            co_return ended(*ew, outcome_of(write_ec));
        }
        auto [read_ec, n] =
            co_await asio::async_read(socket, asio::buffer(in), asio::as_tuple(asio::use_awaitable));
        if (read_ec) co_return ended(*ew, outcome_of(read_ec));
        w.count_resume(env.workload);
        if (!all_pattern(in.data(), n)) co_return runtime::task_outcome::error;
        record_round_trip(w, env.workload, sent_ns);
        deadline += options.period_ns;
    }
}

asio::awaitable<runtime::task_outcome> asio_echo_handler(runtime::task_env env, tcp::socket socket,
                                                         echo_worker* ew, std::size_t message) {
    runtime::io_link link(ew->registry, socket);
    std::vector<char> buffer(message);
    for (;;) {
        auto [ec, n] =
            co_await socket.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
        if (ec) co_return ended(*ew, outcome_of(ec));
        ew->worker.count_resume(env.workload);
        if (auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(buffer.data(), n),
                                                                  asio::as_tuple(asio::use_awaitable));
            write_ec) {
            co_return ended(*ew, outcome_of(write_ec));
        }
    }
}

// The listeners are on 127.0.0.1 only, but any local process may connect:
// a handler beyond one per client (and a little slack for connections
// whose client has just ended) is refused, so foreign connections cannot
// take the descriptors the budget planned for units.
bool room_for_handler(echo_worker& ew) {
    const auto& scope = ew.worker.scope();
    const std::uint64_t clients = scope.units(ew.workload);
    return scope.live(ew.workload) - clients < clients + 64;
}

}  // namespace

void echo_connections::spawn_lean(runtime::task_env env, runtime::worker&, const options&, echo_worker& ew) {
    ew.listeners.start([&ew, env](runtime::lean_socket accepted) {
        if (room_for_handler(ew)) echo_handler(env.child(), std::move(accepted), &ew);
    });
    echo_client(env, &ew);
}

void echo_connections::spawn_asio(runtime::task_env env, runtime::worker& w, const options& o,
                                  echo_worker& ew) {
    const std::size_t message = o.message;
    ew.listeners.start([&ew, env, message](runtime::lean_socket accepted) {
        if (!room_for_handler(ew)) return;
        runtime::asio_spawn(
            ew.worker, env.child(),
            asio_echo_handler(env.child(), runtime::rebind(std::move(accepted), ew.worker.executor()), &ew,
                              message));
    });
    runtime::asio_spawn(w, env, asio_echo_client(env, &ew, o, ew.listeners.next_endpoint()));
}

}  // namespace corostorm::workloads
