// corostorm's HTTP endpoint: one listening port, served by one thread of its own.
//
// Design note. The server owns an io_context and the thread that runs it; it
// never touches the worker pool, so a saturated pool cannot stall a scrape and
// a slow scraper cannot stall a worker. Each route is a callback that builds a
// complete response on the server thread; callbacks must be thread-safe with
// respect to the rest of the process (they read lock-free shards and atomics).
// Only GET and HEAD exist; everything else is 405, unknown paths 404; a request
// with a Transfer-Encoding header (any value) is 400 and closes: no route takes a
// body, and ambiguous framing is how requests are smuggled.
// Request size, connection count and per-request time are bounded so that bad
// or slow clients cannot grow memory or starve other clients: a request must
// arrive, and its response be taken, within request_timeout_ms each; with
// max_connections open, a new connection closes the one that has waited
// longest for a complete request (idle, silent or trickling), so that
// connections held open cannot lock a scraper out. A connection is answered
// one request at a time (a pipelined request is read only once the previous
// response is in the kernel, whose send buffer per connection is kept small),
// and no response is built while those held reach max_queued_bytes: the
// connections whose readers have waited longest are closed until they fit, so
// that clients that never read cannot grow memory or make the server render
// page after page for them. Descriptors are bounded too: max_connections is capped
// at start() to what the descriptor limit leaves (less a little headroom for
// the routes' own reads), and if the process runs out anyway (accept() fails
// with EMFILE or ENFILE), a pending connection still gets in: the connection
// that has waited longest is closed, or, with none open, a descriptor the
// server keeps in reserve is given up for it. Accepting pauses briefly when
// nothing can be freed, and each such episode is logged once.
// A route's answer of 1 KiB or more is gzip-compressed (zlib's fastest level)
// when the request's Accept-Encoding allows gzip, as Prometheus's always does;
// every route answer carries Vary: Accept-Encoding.
// Lifetime: construct (binds, throws on failure), start(), stop() or destroy
// (closes the acceptor and every connection, joins the thread).
// Thread-safety: start(), stop() and the accessors may be called from any
// thread; route callbacks run only on the server thread, one at a time.
// Cost: one thread, one io_context, one reserve descriptor (of /dev/null); at
// start() one count of the open descriptors; per connection a coroutine frame and a
// read buffer of at most max_header_bytes + 2 KiB (bodies are capped at 1 KiB);
// responses held, max_queued_bytes in all plus the newest one; a gzip scrape
// a zlib stream's state (about 270 KiB) for as long as it compresses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace corostorm::server {

struct response {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

// A route answers GET (and HEAD, with the body dropped) for one exact path.
using route_handler = std::function<response()>;

struct routes {
    route_handler metrics;  // /metrics
    route_handler healthz;  // /healthz
    route_handler readyz;   // /readyz
    route_handler status;   // /status
};

struct server_limits {
    std::size_t max_header_bytes = 8 * 1024;  // request line and fields; more is 431
    std::size_t max_connections = 256;        // open at once; 0 refuses every connection;
                                              // capped to the descriptor limit at start()
    unsigned request_timeout_ms = 10'000;     // to receive one complete request, and
                                              // again to send its response
    // Responses built and not yet taken by the kernel, all connections together;
    // at it, connections whose readers have waited longest are closed before
    // another response is built.
    std::size_t max_queued_bytes = 16 * 1024 * 1024;
};

// Requests answered, by path label and status code.
struct request_count {
    std::string_view path;  // "/metrics", "/healthz", "/readyz", "/status" or "other"
    unsigned code = 0;      // 100 .. 599
    std::uint64_t count = 0;
};

class http_server {
public:
    // Binds host:port (port 0 = any free port). Throws std::system_error whose
    // message names the address on failure (e.g. address in use).
    http_server(const std::string& host, std::uint16_t port, routes r, server_limits limits = {});
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    void start();  // starts the server thread; idempotent
    void stop();   // closes everything and joins; idempotent

    std::uint16_t port() const;         // the bound port (useful with port 0)
    std::string local_address() const;  // "host:port" as bound, "[v6]:port" for IPv6

    // Counters for the exporter; relaxed reads, exact once the server is stopped.
    std::size_t active_connections() const;     // connections open now
    std::uint64_t evicted_connections() const;  // closed because max_connections were open
                                                // when another arrived (the longest waiting,
                                                // or the new one if none was open), or
                                                // because unread responses held
                                                // max_queued_bytes
    std::uint64_t internal_errors() const;      // routes that threw (answered 500) and
                                                // sessions ended by an unexpected exception
    // Every (path, code) answered at least once. "other" is an unknown path or a
    // request that could not be read (400, 413, 431). Counted when the answer is
    // built, so a scrape does not see itself.
    std::vector<request_count> request_counts() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace corostorm::server
