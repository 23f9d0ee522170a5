// The HTTP server: a listener coroutine accepts connections and spawns one
// session coroutine per connection, all on the server's own io_context and
// thread. Everything in impl past the constructor runs on that thread, except
// start(), stop() and the counters, which use the lifecycle mutex, post to the
// io_context, or read atomics.
#include "server/http_server.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <atomic>
#include <chrono>
#include <exception>
#include <limits>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <spdlog/spdlog.h>

#include "metrics/probes.h"
#include "runtime/run_loop.h"

namespace corostorm::server {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

using request = http::request<http::string_body>;
using reply = http::response<http::string_body>;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// No route takes a body; a small one is tolerated (some clients send one with
// GET) and anything larger is refused with 413 before it is buffered.
constexpr std::size_t max_body_bytes = 1024;
// Read buffer room beyond header and body limits, so that a header just over
// the limit is reported as 431 by the parser rather than as a full buffer.
constexpr std::size_t read_buffer_slack = 1024;
// The kernel's send buffer of each connection, asked for instead of letting it
// grow to tcp_wmem's maximum (4 MiB by default): what a client that stops
// reading can make the kernel hold for it, and so how many pipelined responses
// the server renders for it before its write stalls (Linux doubles the value
// for bookkeeping). At 50 ms of round trip it still moves 2.5 MB/s.
constexpr int send_buffer_bytes = 64 * 1024;
// After a failed accept that nothing can be done about (say, out of file
// descriptors with none to free) wait before retrying, so that a persistent
// error does not spin the server thread on a listener that stays readable.
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);
// Connections accepted in one go before the sessions get a turn: the cost of
// an accept is a system call, tiny next to a session's turn, yet a flood of
// connections must not keep the server thread to itself.
constexpr std::size_t accept_burst = 64;
// Out-of-descriptors episodes logged at most once in this interval.
constexpr auto episode_log_interval = std::chrono::minutes(1);
// Descriptors left to the rest of the process when max_connections is capped
// to the descriptor limit at start: the routes themselves read /proc files,
// and a reload opens the config.
constexpr std::size_t descriptor_headroom = 16;

// The soft RLIMIT_NOFILE, and how many descriptors are open now; nullopt if
// either is unknown or the limit is infinite (then nothing is capped).
std::optional<std::pair<std::size_t, std::size_t>> descriptor_use() {
    const metrics::process_stats stats = metrics::read_process_stats();
    if (stats.max_fds == 0 || stats.max_fds == RLIM_INFINITY || stats.open_fds == 0) {
        return std::nullopt;
    }
    return std::pair{static_cast<std::size_t>(stats.max_fds), static_cast<std::size_t>(stats.open_fds)};
}

bool out_of_descriptors(const beast::error_code& ec) {
    return ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system;
}

std::string format_address(const asio::ip::address& address, std::uint16_t port) {
    const std::string host = address.to_string();
    return address.is_v6() ? "[" + host + "]:" + std::to_string(port) : host + ":" + std::to_string(port);
}

reply make_reply(unsigned status, std::string content_type, std::string body, unsigned version,
                 bool keep_alive) {
    reply res;
    res.result(status);
    res.version(version);
    res.set(http::field::server, "corostorm");
    res.set(http::field::cache_control, "no-store");
    res.set(http::field::content_type, std::move(content_type));
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

// Below this a body goes as it is: the gzip header and the CPU are not worth it.
constexpr std::size_t gzip_min_bytes = 1024;
// zlib's fastest level: the text format's repeated label sets compress well at any
// level, and the compression runs on the server thread for every scrape.
constexpr int gzip_level = Z_BEST_SPEED;

// True when an Accept-Encoding value lets gzip through: a "gzip", "x-gzip" or "*" entry
// whose q-value is not 0 (RFC 9110, 12.5.3). Prometheus sends "gzip".
bool accepts_gzip(std::string_view header) {
    const auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        return s;
    };
    const auto lower_equals = [](std::string_view a, std::string_view b) {
        return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
                   return std::tolower(static_cast<unsigned char>(x)) == y;
               });
    };
    while (!header.empty()) {
        const std::size_t comma = header.find(',');
        std::string_view entry = header.substr(0, comma);
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        const std::size_t semicolon = entry.find(';');
        const std::string_view coding = trim(entry.substr(0, semicolon));
        if (!lower_equals(coding, "gzip") && !lower_equals(coding, "x-gzip") && coding != "*") continue;
        if (semicolon == std::string_view::npos) return true;
        // "q=0", "q=0.0", "q=0.000" refuse; any other weight accepts.
        std::string_view q = trim(entry.substr(semicolon + 1));
        if (q.size() < 2 || std::tolower(static_cast<unsigned char>(q[0])) != 'q' || q[1] != '=') return true;
        q.remove_prefix(2);
        if (q.find_first_not_of("0.") != std::string_view::npos || q.empty() || q[0] != '0') return true;
    }
    return false;
}

// `body` as a gzip member (RFC 1952), or nullopt when zlib fails (no memory): then the
// body goes uncompressed.
std::optional<std::string> gzip(std::string_view body) {
    z_stream zs{};
    if (deflateInit2(&zs, gzip_level, Z_DEFLATED, 15 + 16 /* gzip wrapper */, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        return std::nullopt;
    }
    std::string out(deflateBound(&zs, static_cast<uLong>(body.size())), '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
    zs.avail_in = static_cast<uInt>(body.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    const uLong produced = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) return std::nullopt;
    out.resize(produced);
    // Down from deflateBound (about the page's size) to the body: a response waiting for
    // a reader that never reads holds only what it will send.
    out.shrink_to_fit();
    return out;
}

reply plain_reply(http::status status, std::string body, unsigned version, bool keep_alive) {
    return make_reply(static_cast<unsigned>(status), "text/plain; charset=utf-8", std::move(body), version,
                      keep_alive);
}

// The answer to a request that could not be read, or nullopt to close without
// one: the peer left, timed out, or the server is stopping.
std::optional<reply> reply_to_read_error(const beast::error_code& ec) {
    static const auto& parse_errors = http::make_error_code(http::error::bad_method).category();
    if (ec == http::error::header_limit) {
        return plain_reply(http::status::request_header_fields_too_large, "request header too large\n", 11,
                           false);
    }
    if (ec == http::error::body_limit) {
        return plain_reply(http::status::payload_too_large, "request body too large\n", 11, false);
    }
    if (ec.category() == parse_errors && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
        return plain_reply(http::status::bad_request, "bad request\n", 11, false);
    }
    return std::nullopt;
}

// A request with a Transfer-Encoding header, whatever its value: 400, then the
// connection closes. No route takes a body, and a chunked one is the usual
// vehicle for request smuggling; an unknown or malformed coding (say
// "xchunked") leaves the body's length undefined, which RFC 9112 (6.3) answers
// with 400 and a close. Refusing them all, before any body is read, leaves
// nothing to get wrong. The TE header is another matter: it lists the codings
// a client accepts in a response, and the server sends every response with
// Content-Length and no transfer coding, so TE is ignored whatever it says.
reply refuse_transfer_encoding() {
    return plain_reply(http::status::bad_request, "transfer codings are not accepted\n", 11, false);
}

// Completion of a spawned coroutine: an exception is counted, because
// rethrowing it would end ioc_.run() and with it the server.
struct count_failure {
    std::atomic<std::uint64_t>* failures;

    void operator()(const std::exception_ptr& failure) const {
        if (failure) {
            // Relaxed: a counter that orders nothing else.
            failures->fetch_add(1, std::memory_order_relaxed);
        }
    }
};

}  // namespace

struct http_server::impl {
    // An open connection's stream; whether it was evicted: closed to make room
    // for a newer connection or response while its session still unwinds;
    // whether it is being answered (a whole request received, its response
    // not yet written); and the bytes of the response it holds until written
    // (or until its session ends, if evicted), counted in queued_bytes_.
    struct slot {
        explicit slot(tcp::socket socket) : stream(std::move(socket)) {}
        beast::tcp_stream stream;
        bool evicted = false;
        bool answering = false;
        std::size_t queued = 0;
    };

    // One accepted connection. The stream lives in connections_ so that stop()
    // and eviction can close it from outside its session; the entry goes when
    // the session frame that owns this handle is destroyed, however the session ended.
    class connection {
    public:
        connection(impl& owner, tcp::socket socket)
            : owner_(&owner), it_(owner.connections_.emplace(owner.connections_.end(), std::move(socket))) {
            ++owner.open_connections_;
            owner.publish_connection_count();
        }
        connection(connection&& other) noexcept
            : owner_(std::exchange(other.owner_, nullptr)), it_(other.it_) {}
        connection& operator=(connection&&) = delete;
        ~connection() {
            if (owner_ != nullptr) {
                if (!it_->evicted) {
                    --owner_->open_connections_;
                }
                owner_->release(*it_);
                owner_->connections_.erase(it_);
                owner_->publish_connection_count();
                // The descriptor just closed refills the reserve if it was spent.
                owner_->reserve_descriptor();
            }
        }

        beast::tcp_stream& stream() const { return it_->stream; }

        // A whole request arrived: the connection moves to the back of the
        // eviction order, behind every connection that has waited longer.
        void received_request() const {
            owner_->connections_.splice(owner_->connections_.end(), owner_->connections_, it_);
            it_->answering = true;
        }

        bool evicted() const { return it_->evicted; }

        // Whether a response may be built now: while the responses held reach
        // max_queued_bytes, no new one is, and the connection that has waited
        // longest for its reader is closed; its session then frees its
        // response within a turn or two of the server thread, and the caller
        // asks again after a turn.
        bool may_respond() const {
            if (owner_->queued_bytes_ < owner_->limits_.max_queued_bytes) {
                return true;
            }
            // Only as many as needed: connections closed already free theirs soon.
            if (owner_->queued_bytes_ - owner_->releasing_bytes_ >= owner_->limits_.max_queued_bytes) {
                owner_->evict_longest_writing();
            }
            return false;
        }

        // A response of `bytes` is held from now until done_writing().
        void writing(std::size_t bytes) const {
            it_->queued = bytes;
            owner_->queued_bytes_ += bytes;
        }
        void done_writing() const {
            owner_->release(*it_);
            it_->answering = false;
        }

    private:
        impl* owner_;
        std::list<slot>::iterator it_;
    };

    impl(const std::string& host, std::uint16_t port, routes r, server_limits limits)
        : routes_(std::move(r)),
          limits_(limits),
          header_limit_(static_cast<std::uint32_t>(
              std::min<std::size_t>(limits.max_header_bytes, std::numeric_limits<std::uint32_t>::max()))),
          request_timeout_(limits.request_timeout_ms) {
        beast::error_code ec;
        const auto address = asio::ip::make_address(host, ec);
        if (ec) {
            throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                    "cannot listen on " + host + ":" + std::to_string(port) +
                                        ": host is not an IPv4 or IPv6 address");
        }
        const std::string wanted = format_address(address, port);
        const tcp::endpoint endpoint(address, port);
        const auto check = [&wanted](const beast::error_code& e) {
            if (e) {
                throw std::system_error(e, "cannot listen on " + wanted);
            }
        };
        acceptor_.open(endpoint.protocol(), ec);
        check(ec);
        acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
        check(ec);
        acceptor_.bind(endpoint, ec);
        check(ec);
        acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        check(ec);
        const tcp::endpoint bound = acceptor_.local_endpoint(ec);
        check(ec);
        port_ = bound.port();
        local_address_ = format_address(bound.address(), port_);
    }

    void start() {
        const std::lock_guard lock(lifecycle_mutex_);
        if (state_ != state::idle) {
            return;
        }
        // Capped to what the descriptor limit leaves, so that the server reaches
        // its own limit, and evicts, before the process runs out: at start the
        // daemon has raised the limit and opened what it holds throughout. What
        // opens later is met by the out-of-descriptors path in listener().
        if (const auto use = descriptor_use()) {
            const auto [limit, open] = *use;
            const std::size_t room =
                limit > open + descriptor_headroom ? limit - open - descriptor_headroom : 1;
            max_connections_ = std::min(max_connections_, room);
        }
        reserve_descriptor();
        asio::co_spawn(ioc_, listener(), count_failure{&internal_errors_});
        thread_ = std::thread([this] { runtime::run_surviving_out_of_memory(ioc_); });
        state_ = state::running;
    }

    void stop() {
        const std::lock_guard lock(lifecycle_mutex_);
        if (state_ == state::stopped) {
            return;
        }
        if (thread_.joinable()) {
            // Closing from the server thread keeps the acceptor and streams single-threaded;
            // every pending operation then fails, the coroutines end and run() returns.
            asio::post(ioc_, [this] { close_all(); });
            thread_.join();
        } else {
            close_all();
        }
        state_ = state::stopped;
    }

    // Accepts without blocking until nothing is pending, then waits for the
    // listener to be readable; each wait is armed before this thread can see
    // the next connection arrive, so none is missed. Out of descriptors, room
    // is made only when a connection is pending: accept() fails with EMFILE
    // whether or not one is, and nobody must be closed for a connection that
    // is not there.
    asio::awaitable<void> listener() {
        beast::error_code ec;
        acceptor_.non_blocking(true, ec);
        bool room_made = false;  // for the connection pending now, since the last pause
        std::size_t accepted_in_burst = 0;
        for (;;) {
            if (!acceptor_.is_open()) {
                co_return;
            }
            tcp::socket socket(ioc_);
            acceptor_.accept(socket, ec);
            if (ec == asio::error::connection_aborted) {
                continue;  // gone before it was accepted
            }
            const bool short_of_descriptors = out_of_descriptors(ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again ||
                (short_of_descriptors && !connection_pending())) {
                accepted_in_burst = 0;
                co_await acceptor_.async_wait(tcp::acceptor::wait_read, use_tuple);
                continue;
            }
            if (short_of_descriptors) {
                if (!short_of_descriptors_ && start_episode()) {
                    spdlog::warn(
                        "http: out of file descriptors ({}): each new connection closes the one that has "
                        "waited longest (or takes a descriptor kept in reserve)",
                        ec.message());
                }
                // Make room once and accept again at once; if another thread took the
                // descriptor freed, pause rather than close connection after connection.
                if (!room_made && make_room_for_accept()) {
                    room_made = true;
                    continue;
                }
            }
            if (ec) {
                room_made = false;
                asio::steady_timer pause(ioc_, accept_retry_delay);
                co_await pause.async_wait(use_tuple);
                continue;
            }
            if (short_of_descriptors_ && !room_made) {
                short_of_descriptors_ = false;
                if (episode_logged_) {
                    spdlog::info(
                        "http: file descriptors available again; {} connection(s) closed for them "
                        "since this was last logged",
                        std::exchange(closed_for_descriptors_, 0));
                }
            }
            room_made = false;
            reserve_descriptor();
            // Ignored on failure: the kernel's default buffer is a weaker bound, not an error.
            socket.set_option(asio::socket_base::send_buffer_size(send_buffer_bytes), ec);
            if (open_connections_ >= max_connections_) {
                // Relaxed: a counter that orders nothing else.
                evicted_connections_.fetch_add(1, std::memory_order_relaxed);
                if (!evict_longest_waiting()) {
                    socket.close(ec);
                    continue;
                }
            }
            asio::co_spawn(ioc_, session(connection(*this, std::move(socket))),
                           count_failure{&internal_errors_});
            // The listen queue is drained a burst at a time, and the sessions get
            // their turn between bursts. One connection a turn would put a scraper
            // at the back of the queue behind a round of every session per
            // connection ahead of it: seconds, when those sessions render pages.
            if (++accepted_in_burst == accept_burst) {
                accepted_in_burst = 0;
                co_await asio::post(ioc_, asio::use_awaitable);
            }
        }
    }

    // True if a connection waits in the listen queue (a poll, without blocking).
    bool connection_pending() {
        pollfd p{acceptor_.native_handle(), POLLIN, 0};
        return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
    }

    asio::awaitable<void> session(connection conn) {
        beast::tcp_stream& stream = conn.stream();
        beast::flat_buffer buffer(limits_.max_header_bytes + max_body_bytes + read_buffer_slack);
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(header_limit_);
            parser.body_limit(max_body_bytes);
            // One deadline for the whole request, however many reads it takes: a client
            // trickling bytes is cut off, as is an idle keep-alive connection.
            stream.expires_after(request_timeout_);
            // The header first, so that its framing is judged before any body is read.
            auto [read_error, read_bytes] =
                co_await http::async_read_header(stream, buffer, parser, use_tuple);
            std::optional<reply> res;
            if (!read_error && parser.get().count(http::field::transfer_encoding) != 0) {
                res = refuse_transfer_encoding();
            } else {
                if (!read_error) {
                    std::tie(read_error, read_bytes) =
                        co_await http::async_read(stream, buffer, parser, use_tuple);
                }
                if (!read_error) {
                    conn.received_request();
                }
                if (!read_error) {
                    // Memory for responses is bounded before one is built, so that
                    // clients that never read cannot make the server build more.
                    while (!conn.may_respond()) {
                        co_await asio::post(ioc_, asio::use_awaitable);
                    }
                    if (conn.evicted()) {
                        break;
                    }
                }
                res = read_error ? reply_to_read_error(read_error) : answer(parser.get());
            }
            if (!res) {
                break;
            }
            {
                const std::string_view target = parser.is_header_done() ? parser.get().target() : "";
                count_request(route_index(target.substr(0, target.find('?'))), res->result_int());
            }
            // A client that stops reading cannot hold the connection either. One
            // response at a time: the next pipelined request is not read, let
            // alone answered, until this one is in the kernel's hands.
            stream.expires_after(request_timeout_);
            conn.writing(res->body().capacity());
            const auto [write_error, written_bytes] = co_await http::async_write(stream, *res, use_tuple);
            conn.done_writing();
            if (write_error || !res->keep_alive()) {
                break;
            }
        }
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    reply answer(const request& req) {
        const unsigned version = req.version();
        const bool keep_alive = req.keep_alive();
        const bool head = req.method() == http::verb::head;
        if (req.method() != http::verb::get && !head) {
            reply res =
                plain_reply(http::status::method_not_allowed, "method not allowed\n", version, keep_alive);
            res.set(http::field::allow, "GET, HEAD");
            return res;
        }
        const std::string_view target = req.target();
        const route_handler* handler = find_route(target.substr(0, target.find('?')));
        reply res;
        if (handler == nullptr || !*handler) {
            res = plain_reply(http::status::not_found, "not found\n", version, keep_alive);
        } else {
            try {
                response r = (*handler)();
                // A status outside 200..599 would be a malformed final response.
                if (r.status < 200 || r.status > 599) {
                    throw std::out_of_range("route returned status " + std::to_string(r.status));
                }
                res = make_reply(r.status, std::move(r.content_type), std::move(r.body), version, keep_alive);
                // A route's answer may be compressed: caches must key on the request's coding.
                res.set(http::field::vary, "Accept-Encoding");
                if (res.body().size() >= gzip_min_bytes && accepts_gzip(req[http::field::accept_encoding])) {
                    if (auto packed = gzip(res.body())) {
                        res.body() = std::move(*packed);
                        res.set(http::field::content_encoding, "gzip");
                        res.prepare_payload();
                    }
                }
            } catch (...) {
                // Relaxed: a counter that orders nothing else.
                internal_errors_.fetch_add(1, std::memory_order_relaxed);
                res =
                    plain_reply(http::status::internal_server_error, "internal error\n", version, keep_alive);
            }
        }
        if (head) {
            // Same headers as GET, Content-Length included; only the body goes.
            const std::size_t length = res.body().size();
            std::string().swap(res.body());  // its memory too, not held while written
            res.content_length(length);
        }
        return res;
    }

    // Requests answered, [route_index][code - 100]: lock-free, fixed (5 x 500 counters,
    // 20 KiB), written by the server thread, read by the exporter.
    static constexpr std::array<std::string_view, 5> path_labels{"/metrics", "/healthz", "/readyz", "/status",
                                                                 "other"};
    static constexpr unsigned first_code = 100;
    static constexpr unsigned code_count = 500;
    std::array<std::atomic<std::uint64_t>, path_labels.size() * code_count> request_counts_{};

    static std::size_t route_index(std::string_view path) {
        for (std::size_t i = 0; i + 1 < path_labels.size(); ++i) {
            if (path == path_labels[i]) return i;
        }
        return path_labels.size() - 1;
    }

    void count_request(std::size_t route, unsigned code) {
        if (code < first_code || code >= first_code + code_count) return;
        // Relaxed: a counter that orders nothing else.
        request_counts_[route * code_count + (code - first_code)].fetch_add(1, std::memory_order_relaxed);
    }

    const route_handler* find_route(std::string_view path) const {
        if (path == "/metrics") {
            return &routes_.metrics;
        }
        if (path == "/healthz") {
            return &routes_.healthz;
        }
        if (path == "/readyz") {
            return &routes_.readyz;
        }
        if (path == "/status") {
            return &routes_.status;
        }
        return nullptr;
    }

    // Makes room for a new connection when max_connections are open: closes the
    // one that has waited longest for a complete request (an idle keep-alive
    // connection, one that never sent a byte, or a client trickling a request),
    // so that connections held open cannot lock a scraper out. Its session then
    // sees its read or write fail and ends. A connection being answered is
    // spared while any other is open: under a flood of connections every slot
    // turns over within milliseconds, and a scraper whose reader is a little
    // slow would otherwise lose its response halfway. Only when every open
    // connection is being answered does the one answered longest go (the
    // request timeout and the bound on queued responses limit those anyway).
    // False if none is open.
    bool evict_longest_waiting() {
        slot* longest_answered = nullptr;
        for (slot& s : connections_) {
            if (s.evicted) {
                continue;
            }
            if (!s.answering) {
                evict(s);
                return true;
            }
            if (longest_answered == nullptr) {
                longest_answered = &s;
            }
        }
        if (longest_answered != nullptr) {
            evict(*longest_answered);
            return true;
        }
        return false;
    }

    // Starts an out-of-descriptors episode; true if it is to be logged: one
    // in a minute at most, so that a process hovering at its limit does not
    // flood the log with episodes of a connection each.
    bool start_episode() {
        short_of_descriptors_ = true;
        const auto now = std::chrono::steady_clock::now();
        episode_logged_ = !last_episode_logged_ || now - *last_episode_logged_ >= episode_log_interval;
        if (episode_logged_) {
            last_episode_logged_ = now;
        }
        return episode_logged_;
    }

    // Frees a descriptor for a pending connection when the process has none:
    // closes the connection that has waited longest, or, with none open (the
    // rest of the process holds every descriptor), gives up the reserve. True
    // if one was freed.
    bool make_room_for_accept() {
        if (evict_longest_waiting()) {
            // Relaxed: a counter that orders nothing else.
            evicted_connections_.fetch_add(1, std::memory_order_relaxed);
            ++closed_for_descriptors_;
            return true;
        }
        if (spare_descriptor_ >= 0) {
            ::close(spare_descriptor_);
            spare_descriptor_ = -1;
            return true;
        }
        return false;
    }

    // Holds one descriptor (of /dev/null) in reserve, if not already held and
    // one can be had: with it, a scraper is accepted even when the rest of the
    // process has taken every other descriptor.
    void reserve_descriptor() {
        if (spare_descriptor_ < 0) {
            spare_descriptor_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
    }

    // Closes the connection that has waited longest with a response unwritten,
    // its reader not reading; none if every such connection is closed already
    // (their sessions are unwinding). A reading client takes its response
    // within milliseconds, so those closed are the ones not reading.
    void evict_longest_writing() {
        for (slot& s : connections_) {
            if (!s.evicted && s.queued != 0) {
                // Relaxed: a counter that orders nothing else.
                evicted_connections_.fetch_add(1, std::memory_order_relaxed);
                evict(s);
                return;
            }
        }
    }

    void evict(slot& s) {
        s.evicted = true;
        releasing_bytes_ += s.queued;
        --open_connections_;
        s.stream.close();
        publish_connection_count();
    }

    // The response a slot held is freed (written, or its session ended).
    void release(slot& s) {
        queued_bytes_ -= s.queued;
        if (s.evicted) {
            releasing_bytes_ -= s.queued;
        }
        s.queued = 0;
    }

    void close_all() {
        beast::error_code ignored;
        acceptor_.close(ignored);
        if (spare_descriptor_ >= 0) {
            ::close(spare_descriptor_);
            spare_descriptor_ = -1;
        }
        for (slot& s : connections_) {
            s.stream.close();
        }
    }

    void publish_connection_count() {
        // Readers only display the number; connections_ itself is server-thread only.
        active_connections_.store(open_connections_, std::memory_order_relaxed);
    }

    enum class state { idle, running, stopped };

    const routes routes_;
    const server_limits limits_;
    const std::uint32_t header_limit_;
    const std::chrono::milliseconds request_timeout_;
    std::uint16_t port_ = 0;
    std::string local_address_;

    // Declared before ioc_: frames still pending when ioc_ is destroyed erase
    // their entries during its destruction. Ordered by when each connection was
    // accepted or last received a whole request, oldest first: the eviction order.
    std::list<slot> connections_;
    std::size_t open_connections_ = 0;                       // entries not evicted
    std::size_t queued_bytes_ = 0;                           // their responses held
    std::size_t releasing_bytes_ = 0;                        // of those, by evicted ones
    std::size_t max_connections_ = limits_.max_connections;  // capped at start()
    int spare_descriptor_ = -1;                              // the reserve, or -1
    bool short_of_descriptors_ = false;                      // in an episode
    bool episode_logged_ = false;                            // this one, at its start and end
    std::optional<std::chrono::steady_clock::time_point> last_episode_logged_;
    std::uint64_t closed_for_descriptors_ = 0;  // in this episode
    asio::io_context ioc_{1};
    tcp::acceptor acceptor_{ioc_};

    std::atomic<std::size_t> active_connections_{0};
    std::atomic<std::uint64_t> evicted_connections_{0};
    std::atomic<std::uint64_t> internal_errors_{0};

    std::mutex lifecycle_mutex_;
    state state_ = state::idle;
    std::thread thread_;
};

http_server::http_server(const std::string& host, std::uint16_t port, routes r, server_limits limits)
    : impl_(std::make_unique<impl>(host, port, std::move(r), limits)) {}

http_server::~http_server() { stop(); }

void http_server::start() { impl_->start(); }

void http_server::stop() { impl_->stop(); }

std::uint16_t http_server::port() const { return impl_->port_; }

std::string http_server::local_address() const { return impl_->local_address_; }

std::size_t http_server::active_connections() const {
    // Relaxed: a counter that orders nothing else.
    return impl_->active_connections_.load(std::memory_order_relaxed);
}

std::vector<request_count> http_server::request_counts() const {
    std::vector<request_count> out;
    for (std::size_t route = 0; route < impl::path_labels.size(); ++route) {
        for (unsigned c = 0; c < impl::code_count; ++c) {
            const std::uint64_t n =
                impl_->request_counts_[route * impl::code_count + c].load(std::memory_order_relaxed);
            if (n != 0) out.push_back({impl::path_labels[route], impl::first_code + c, n});
        }
    }
    return out;
}

std::uint64_t http_server::evicted_connections() const {
    // Relaxed: a counter that orders nothing else.
    return impl_->evicted_connections_.load(std::memory_order_relaxed);
}

std::uint64_t http_server::internal_errors() const {
    // Relaxed: a counter that orders nothing else.
    return impl_->internal_errors_.load(std::memory_order_relaxed);
}

}  // namespace corostorm::server
