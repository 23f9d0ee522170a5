#include "workloads/rpc.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <chrono>
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

namespace detail {

namespace {

constexpr std::size_t buffer_bytes = max_message;  // each direction, each end
constexpr unsigned rounds_per_turn = 16;           // buffers moved before giving the worker back
constexpr std::uint64_t reconnect_pause_ns = 100'000'000;

}  // namespace

// One call: a link in its connection's queues, inside the caller's frame.
struct rpc_call {
    rpc_call* next = nullptr;
    std::uint64_t sent_ns = 0;
    // Called once: ok = the reply came back (its round trip recorded);
    // completion_ns = the worker's clock when the reply was read.
    void (*complete)(rpc_call* call, bool ok, std::uint64_t completion_ns) = nullptr;

    std::uint64_t id() const noexcept { return reinterpret_cast<std::uintptr_t>(this); }
};

namespace {

struct call_queue {
    rpc_call* head = nullptr;
    rpc_call* tail = nullptr;

    void push(rpc_call* c) noexcept {
        c->next = nullptr;
        if (tail != nullptr) {
            tail->next = c;
        } else {
            head = c;
        }
        tail = c;
    }
    rpc_call* pop() noexcept {
        rpc_call* c = head;
        if (c != nullptr) {
            head = c->next;
            if (head == nullptr) tail = nullptr;
            c->next = nullptr;
        }
        return c;
    }
    bool empty() const noexcept { return head == nullptr; }
};

}  // namespace

// The server end of a shared connection: echoes every byte, reading again
// only once what it read is written back (so a peer that does not read
// stops it instead of growing a buffer).
class echo_stream {
public:
    explicit echo_stream(tcp::socket socket) : socket_(std::move(socket)), buffer_(buffer_bytes) {
        error_code ec;
        socket_.non_blocking(true, ec);
        if (ec) close();
    }
    echo_stream(const echo_stream&) = delete;
    echo_stream& operator=(const echo_stream&) = delete;

    void start() {
        if (!closed_) pump();
    }
    void close() noexcept {
        closed_ = true;
        error_code ignored;
        socket_.close(ignored);
        std::vector<char>().swap(buffer_);
    }
    // Closed, with no handler left that points at it: safe to destroy.
    bool finished() const noexcept { return closed_ && outstanding_ == 0; }

private:
    void wait(tcp::socket::wait_type type) {
        ++outstanding_;
        socket_.async_wait(type, [this](const error_code& ec) {
            --outstanding_;
            if (closed_) return;
            if (ec) return close();
            pump();
        });
    }
    void pump() {
        for (unsigned round = 0; round < rounds_per_turn; ++round) {
            error_code ec;
            if (end_ > begin_) {
                const std::size_t n =
                    socket_.write_some(asio::buffer(buffer_.data() + begin_, end_ - begin_), ec);
                if (ec == asio::error::would_block) return wait(tcp::socket::wait_write);
                if (ec) return close();
                begin_ += n;
                if (begin_ == end_) begin_ = end_ = 0;
                continue;
            }
            const std::size_t n = socket_.read_some(asio::buffer(buffer_), ec);
            if (ec == asio::error::would_block) return wait(tcp::socket::wait_read);
            if (ec) return close();  // the client went away
            end_ = n;
        }
        ++outstanding_;
        asio::post(socket_.get_executor(), [this] {
            --outstanding_;
            if (!closed_) pump();
        });
    }

    tcp::socket socket_;
    std::vector<char> buffer_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    unsigned outstanding_ = 0;
    bool closed_ = false;
};

// The client end of a shared connection (see rpc.h).
class rpc_connection {
public:
    explicit rpc_connection(rpc_worker& owner)
        : owner_(owner), socket_(owner.worker.executor()), out_(buffer_bytes), in_(buffer_bytes) {}
    rpc_connection(const rpc_connection&) = delete;
    rpc_connection& operator=(const rpc_connection&) = delete;

    // Queues `call`; false when the connection cannot take it now (failed
    // and not yet connected again, or closed): the call fails at once.
    bool call(rpc_call& c) {
        runtime::worker& w = owner_.worker;
        if (state_ == state::closed) return false;
        if (state_ == state::idle) {
            if (last_attempt_ns_ != 0 && w.clock_ns() - last_attempt_ns_ < reconnect_pause_ns) return false;
            connect();
        }
        c.sent_ns = w.clock_ns();
        send_.push(&c);
        if (state_ == state::up) post_flush();
        return true;
    }

    void connect() {
        runtime::worker& w = owner_.worker;
        state_ = state::connecting;
        last_attempt_ns_ = w.clock_ns();
        socket_ = tcp::socket(w.executor());
        socket_.async_connect(owner_.listener.next_endpoint(),
                              [this, gen = generation_](const error_code& ec) {
                                  if (gen != generation_ || state_ != state::connecting) return;
                                  runtime::worker_binding bind(&owner_.worker);
                                  error_code option_ec;
                                  if (!ec) socket_.non_blocking(true, option_ec);
                                  if (!ec && !option_ec) socket_.set_option(tcp::no_delay(true), option_ec);
                                  if (ec || option_ec) return fail(state::idle);
                                  state_ = state::up;
                                  owner_.worker.stats(owner_.workload).connections.add(1);
                                  wait_readable();
                                  post_flush();
                              });
    }

    // A drain: every call fails, the connection closes for good.
    void close() noexcept { fail(state::closed); }

private:
    enum class state { idle, connecting, up, closed };

    void fail(state next) noexcept {
        if (state_ == state::up) owner_.worker.stats(owner_.workload).connections.sub(1);
        if (state_ != state::closed) state_ = next;
        ++generation_;  // handlers of the old socket find a new generation and leave
        error_code ignored;
        socket_.close(ignored);
        out_len_ = in_len_ = 0;
        flush_posted_ = write_waiting_ = false;
        const std::uint64_t now = owner_.worker.clock_ns();
        while (rpc_call* c = flight_.pop()) c->complete(c, false, now);
        while (rpc_call* c = send_.pop()) c->complete(c, false, now);
    }

    void post_flush() {
        if (flush_posted_ || write_waiting_) return;
        flush_posted_ = true;
        asio::post(socket_.get_executor(), [this, gen = generation_] {
            if (gen != generation_) return;
            flush_posted_ = false;
            runtime::worker_binding bind(&owner_.worker);
            flush();
        });
    }

    // Serialises queued calls into the write buffer and writes it, until
    // the socket would block or nothing is left.
    void flush() {
        if (state_ != state::up) return;
        const std::size_t m = owner_.message;
        const char* const pattern = message_pattern().data();
        for (unsigned round = 0; round < rounds_per_turn; ++round) {
            while (!send_.empty() && out_len_ + m <= out_.size()) {
                rpc_call* c = send_.pop();
                char* p = out_.data() + out_len_;
                const std::uint64_t id = c->id();
                std::memcpy(p, &id, sizeof id);
                std::memcpy(p + sizeof id, &c->sent_ns, sizeof c->sent_ns);
                std::memcpy(p + rpc_header_bytes, pattern, m - rpc_header_bytes);
                out_len_ += m;
                flight_.push(c);
            }
            if (out_len_ == 0) return;
            error_code ec;
            const std::size_t n = socket_.write_some(asio::buffer(out_.data(), out_len_), ec);
            if (ec == asio::error::would_block) return wait_writable();
            if (ec) return fail(state::idle);
            std::memmove(out_.data(), out_.data() + n, out_len_ - n);
            out_len_ -= n;
        }
        post_flush();
    }

    void wait_writable() {
        write_waiting_ = true;
        socket_.async_wait(tcp::socket::wait_write, [this, gen = generation_](const error_code& ec) {
            if (gen != generation_) return;
            write_waiting_ = false;
            runtime::worker_binding bind(&owner_.worker);
            if (ec) return fail(state::idle);
            flush();
        });
    }

    void wait_readable() {
        socket_.async_wait(tcp::socket::wait_read, [this, gen = generation_](const error_code& ec) {
            if (gen != generation_) return;
            runtime::worker_binding bind(&owner_.worker);
            if (ec) return fail(state::idle);
            read();
        });
    }

    // Reads what has arrived and completes the calls whose replies it holds.
    void read() {
        runtime::worker& w = owner_.worker;
        auto& stats = w.stats(owner_.workload);
        const std::size_t m = owner_.message;
        for (unsigned round = 0; round < rounds_per_turn; ++round) {
            error_code ec;
            const std::size_t n =
                socket_.read_some(asio::buffer(in_.data() + in_len_, in_.size() - in_len_), ec);
            if (ec == asio::error::would_block) return wait_readable();
            if (ec) return fail(state::idle);  // the server never closes first: eof is a failure
            in_len_ += n;
            w.refresh_clock();
            const std::uint64_t completion_ns = w.clock_ns();
            const std::uint64_t gen = generation_;
            metrics::latency_run round_trips(stats.round_trip);
            std::size_t at = 0;
            for (; in_len_ - at >= m; at += m) {
                std::uint64_t id = 0;
                std::uint64_t sent_ns = 0;
                std::memcpy(&id, in_.data() + at, sizeof id);
                std::memcpy(&sent_ns, in_.data() + at + sizeof id, sizeof sent_ns);
                rpc_call* c = flight_.pop();
                if (c == nullptr || c->id() != id) return fail(state::idle);
                const std::uint64_t now = w.clock_ns();
                stats.round_trips.add(1);
                if (w.sample_latency()) round_trips.record(now > sent_ns ? now - sent_ns : 0);
                c->complete(c, true, completion_ns);
                if (gen != generation_) return;  // a completion closed us (a drain)
            }
            std::memmove(in_.data(), in_.data() + at, in_len_ - at);
            in_len_ -= at;
        }
        asio::post(socket_.get_executor(), [this, gen = generation_] {
            if (gen != generation_) return;
            runtime::worker_binding bind(&owner_.worker);
            read();
        });
    }

    rpc_worker& owner_;
    tcp::socket socket_;
    state state_ = state::idle;
    std::uint64_t generation_ = 0;
    std::uint64_t last_attempt_ns_ = 0;
    call_queue send_;
    call_queue flight_;
    std::vector<char> out_;
    std::vector<char> in_;
    std::size_t out_len_ = 0;
    std::size_t in_len_ = 0;
    bool flush_posted_ = false;
    bool write_waiting_ = false;
};

}  // namespace detail

rpc_worker::rpc_worker(runtime::worker& w, std::uint16_t workload_index, const rpc_options& o,
                       unsigned workers)
    : worker(w), workload(workload_index), message(o.message), listener(w, 1) {
    listener.start([this](runtime::lean_socket accepted) {
        std::erase_if(streams, [](const auto& s) { return s->finished(); });
        // Any local process may connect to 127.0.0.1: beyond the worker's own
        // connections (and slack for reconnects) a connection is refused, so
        // foreign clients cannot grow the server side's 64 KiB buffers.
        if (streams.size() >= connections.size() + 16) return;
        streams.push_back(
            std::make_unique<detail::echo_stream>(runtime::rebind(std::move(accepted), worker.executor())));
        streams.back()->start();
    });
    // This worker's share of the connections, at least one.
    const std::uint64_t share = o.connections / workers + (w.index() < o.connections % workers ? 1 : 0);
    for (std::uint64_t i = 0; i < std::max<std::uint64_t>(share, 1); ++i) {
        connections.push_back(std::make_unique<detail::rpc_connection>(*this));
    }
    for (auto& c : connections) c->connect();
}

rpc_worker::~rpc_worker() = default;

detail::rpc_connection& rpc_worker::pick() noexcept {
    next = (next + 1) % static_cast<unsigned>(connections.size());
    return *connections[next];
}

void rpc_worker::stop() noexcept {
    closed = true;
    listener.close();
    for (auto& c : connections) c->close();
    for (auto& s : streams) s->close();
    registry.cancel_all();
}

namespace {

using detail::rpc_call;
using detail::rpc_connection;

// co_await call_awaiter{connection}: one call; resumes with true once its
// reply is in. The lean caller is resumed by the connection's reader.
struct call_awaiter : rpc_call {
    explicit call_awaiter(rpc_connection* c) noexcept : connection(c) {}

    bool await_ready() const noexcept { return false; }
    bool await_suspend(runtime::task_handle h) {
        handle = h;
        complete = &done;
        return connection->call(*this);  // false: failed at once, resume now with ok = false
    }
    bool await_resume() const noexcept { return ok; }

    static void done(rpc_call* call, bool ok, std::uint64_t completion_ns) {
        auto* self = static_cast<call_awaiter*>(call);
        self->ok = ok;
        runtime::this_worker().resume_io(self->handle, completion_ns);
    }

    rpc_connection* connection;
    runtime::task_handle handle;
    bool ok = false;
};

runtime::task rpc_caller(runtime::task_env env, const rpc_options* options, rpc_worker* rw) {
    rpc_connection* connection = &rw->pick();
    for (;;) {
        co_await runtime::every{options->period_ns};
        if (runtime::this_worker().should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
        if (!co_await call_awaiter{connection}) {
            co_return rw->closed ? runtime::task_outcome::cancelled : runtime::task_outcome::error;
        }
    }
}

using reply_channel = asio::experimental::channel<void(error_code)>;

// An asio caller's call: completed by waking the caller's channel.
struct asio_call : rpc_call {
    explicit asio_call(reply_channel& c) noexcept : channel(c) { complete = &done; }
    static void done(rpc_call* call, bool ok, std::uint64_t completion_ns) {
        auto* self = static_cast<asio_call*>(call);
        self->ok = ok;
        self->completion_ns = completion_ns;
        self->channel.try_send(error_code{});
    }
    reply_channel& channel;
    bool ok = false;
    std::uint64_t completion_ns = 0;
};

asio::awaitable<runtime::task_outcome> asio_rpc_caller(runtime::task_env env, const rpc_options& options,
                                                       rpc_worker* rw) {
    runtime::worker& w = rw->worker;
    rpc_connection& connection = rw->pick();
    asio::steady_timer timer(w.executor());
    runtime::io_link link(rw->registry, timer);
    reply_channel replies(w.executor(), 1);
    asio_call call(replies);
    std::uint64_t deadline = runtime::now_ns() + w.random() % options.period_ns;
    for (;;) {
        timer.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline)));
        if (auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable)); ec) {
            co_return runtime::task_outcome::cancelled;  // the drain cancelled the wait
        }
        runtime::asio_timer_woke(w, env.workload, deadline);
        if (w.should_retire(env.workload)) co_return runtime::task_outcome::cancelled;
        if (connection.call(call)) {
            co_await replies.async_receive(asio::as_tuple(asio::use_awaitable));
            w.count_resume(env.workload);
            if (call.ok && w.sample_latency()) {
                const std::uint64_t now = runtime::now_ns();
                w.record_latency(env.workload, metrics::latency_source::io,
                                 now > call.completion_ns ? now - call.completion_ns : 0);
            }
        } else {
            call.ok = false;
        }
        if (!call.ok) co_return rw->closed ? runtime::task_outcome::cancelled : runtime::task_outcome::error;
        deadline += options.period_ns;
    }
}

}  // namespace

void rpc_callers::spawn_lean(runtime::task_env env, runtime::worker&, const options& o, rpc_worker& rw) {
    rpc_caller(env, &o, &rw);
}

void rpc_callers::spawn_asio(runtime::task_env env, runtime::worker& w, const options& o, rpc_worker& rw) {
    runtime::asio_spawn(w, env, asio_rpc_caller(env, o, &rw));
}

}  // namespace corostorm::workloads
