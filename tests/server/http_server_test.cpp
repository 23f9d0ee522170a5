// Drives http_server through raw POSIX sockets, as a scraper or a hostile
// client would, so that what is asserted is the bytes on the wire.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include "support/wait.h"

namespace corostorm::server {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// Long enough never to fire on a loaded machine, short enough that a broken
// server fails a test instead of hanging it.
constexpr auto io_timeout = 10s;

struct reply {
    unsigned status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;

    std::string header(const std::string& name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

std::string lower(std::string s) {
    for (char& c : s) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return s;
}

// One blocking TCP connection with a receive timeout and a small parser for
// the replies it reads; bytes past one reply stay buffered for the next.
class client {
public:
    explicit client(std::uint16_t port, const std::string& host = "127.0.0.1") {
        const bool v6 = host.find(':') != std::string::npos;
        fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) {
            throw std::system_error(errno, std::system_category(), "socket");
        }
        timeval tv{};
        tv.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(io_timeout).count();
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        int rc = 0;
        if (v6) {
            sockaddr_in6 addr{};
            addr.sin6_family = AF_INET6;
            addr.sin6_port = htons(port);
            ::inet_pton(AF_INET6, host.c_str(), &addr.sin6_addr);
            rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
        } else {
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(port);
            ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
            rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
        }
        if (rc != 0) {
            const int err = errno;
            ::close(fd_);
            throw std::system_error(err, std::system_category(), "connect");
        }
    }
    ~client() { close(); }
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    void close() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

    // False once the peer has closed or reset the connection.
    bool send(std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n < 0) {
                return false;
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // The next reply, or nullopt if the connection ends before a whole one.
    // `head` says the request was HEAD: Content-Length then announces no body.
    std::optional<reply> read_reply(bool head = false) {
        std::size_t end = 0;
        while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
            if (!fill()) {
                return std::nullopt;
            }
        }
        reply r;
        std::string_view head_text(buffer_.data(), end);
        const auto line_end = head_text.find("\r\n");
        const std::string_view status_line = head_text.substr(0, line_end);
        if (status_line.substr(0, 9) != "HTTP/1.1 " || status_line.size() < 12) {
            return std::nullopt;
        }
        r.status = static_cast<unsigned>(std::stoul(std::string(status_line.substr(9, 3))));
        head_text.remove_prefix(line_end == std::string_view::npos ? head_text.size() : line_end + 2);
        while (!head_text.empty()) {
            const auto eol = std::min(head_text.find("\r\n"), head_text.size());
            const std::string_view field = head_text.substr(0, eol);
            const auto colon = field.find(':');
            std::string value(field.substr(colon + 1));
            value.erase(0, value.find_first_not_of(' '));
            r.headers[lower(std::string(field.substr(0, colon)))] = value;
            head_text.remove_prefix(std::min(eol + 2, head_text.size()));
        }
        buffer_.erase(0, end + 4);
        const std::string length = r.header("content-length");
        const std::size_t body_size = head || length.empty() ? 0 : std::stoul(length);
        while (buffer_.size() < body_size) {
            if (!fill()) {
                return std::nullopt;
            }
        }
        r.body = buffer_.substr(0, body_size);
        buffer_.erase(0, body_size);
        return r;
    }

    std::optional<reply> request(const std::string& method, const std::string& target,
                                 const std::string& extra_headers = "") {
        if (!send(method + " " + target + " HTTP/1.1\r\nHost: test\r\n" + extra_headers + "\r\n")) {
            return std::nullopt;
        }
        return read_reply(method == "HEAD");
    }

    // True if the peer closes (EOF or reset) within `within` without sending
    // anything further.
    bool closed_by_peer(std::chrono::milliseconds within) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(within.count())) <= 0) {
            return false;
        }
        char c = 0;
        const ssize_t n = ::recv(fd_, &c, 1, 0);
        return n == 0 || (n < 0 && errno == ECONNRESET);
    }

    // True once the peer has closed or reset the connection, whatever is still
    // unread: the kernel's view of the connection, read without consuming anything.
    bool ended_by_peer() const {
        tcp_info info{};
        socklen_t size = sizeof info;
        if (::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) {
            return true;
        }
        return info.tcpi_state != TCP_ESTABLISHED;
    }

    // Sends each byte in a segment of its own.
    bool send_byte_by_byte(std::string_view data) {
        const int on = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        for (const char c : data) {
            if (!send(std::string_view(&c, 1))) {
                return false;
            }
            std::this_thread::sleep_for(1ms);
        }
        return true;
    }

    // Closes the sending side only: the peer sees the end of the stream.
    void shut_write() { ::shutdown(fd_, SHUT_WR); }

    // Shrinks the receive buffer (before any data arrives), so that a client
    // that never reads stalls the server after a few KiB rather than MiBs.
    void small_receive_buffer() {
        const int bytes = 4096;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }

    // True if something (data, EOF or error) is waiting to be read.
    bool readable() {
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, 0) > 0;
    }

    // Whatever the peer sends until it closes (a reset ends it too).
    std::string read_to_close() {
        std::string all = std::move(buffer_);
        buffer_.clear();
        while (fill()) {
            all += buffer_;
            buffer_.clear();
        }
        return all;
    }

private:
    bool fill() {
        char chunk[4096];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) {
            return false;
        }
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    int fd_ = -1;
    std::string buffer_;
};

routes test_routes() {
    routes r;
    r.metrics = [] { return response{200, "text/plain; version=0.0.4; charset=utf-8", "corostorm_up 1\n"}; };
    r.healthz = [] { return response{200, "text/plain; charset=utf-8", "ok\n"}; };
    r.readyz = [] { return response{503, "text/plain; charset=utf-8", "not ready\n"}; };
    r.status = [] { return response{200, "application/json", R"({"stage":"warmup"})"}; };
    return r;
}

// A server-side change a client caused, within io_timeout.
template <class Predicate>
bool eventually(Predicate pred) {
    return testing::wait_for(pred, io_timeout);
}

class HttpServer : public ::testing::Test {
protected:
    void start(server_limits limits = {}, routes r = test_routes()) {
        server_.emplace("127.0.0.1", 0, std::move(r), limits);
        server_->start();
    }
    std::uint16_t port() const { return server_->port(); }

    // A fresh connection serves /healthz: the server is alive and accepting.
    void expect_serving() {
        client c(port());
        const auto r = c.request("GET", "/healthz");
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->status, 200u);
        EXPECT_EQ(r->body, "ok\n");
    }

    std::optional<http_server> server_;
};

TEST_F(HttpServer, serves_each_route_with_its_status_type_and_body) {
    start();
    struct expected {
        const char* path;
        unsigned status;
        const char* content_type;
        const char* body;
    };
    const expected cases[] = {
        {"/metrics", 200, "text/plain; version=0.0.4; charset=utf-8", "corostorm_up 1\n"},
        {"/healthz", 200, "text/plain; charset=utf-8", "ok\n"},
        {"/readyz", 503, "text/plain; charset=utf-8", "not ready\n"},
        {"/status", 200, "application/json", R"({"stage":"warmup"})"},
    };
    for (const expected& e : cases) {
        client c(port());
        const auto r = c.request("GET", e.path);
        ASSERT_TRUE(r.has_value()) << e.path;
        EXPECT_EQ(r->status, e.status) << e.path;
        EXPECT_EQ(r->body, e.body) << e.path;
        EXPECT_EQ(r->header("content-type"), e.content_type) << e.path;
        EXPECT_EQ(r->header("content-length"), std::to_string(std::strlen(e.body))) << e.path;
        EXPECT_EQ(r->header("cache-control"), "no-store") << e.path;
        EXPECT_EQ(r->header("server"), "corostorm") << e.path;
    }
}

TEST_F(HttpServer, head_sends_the_get_headers_without_a_body) {
    start();
    client c(port());
    const auto head = c.request("HEAD", "/metrics");
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->status, 200u);
    EXPECT_EQ(head->header("content-length"), std::to_string(std::strlen("corostorm_up 1\n")));
    EXPECT_EQ(head->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    // Had a body been sent, it would now be read in place of the next status line.
    const auto get = c.request("GET", "/healthz");
    ASSERT_TRUE(get.has_value());
    EXPECT_EQ(get->status, 200u);
    EXPECT_EQ(get->body, "ok\n");
}

TEST_F(HttpServer, unknown_path_is_404_plain_text) {
    start();
    client c(port());
    for (const char* path : {"/", "/metrics/", "/METRICS", "/nope", "/metricsx"}) {
        const auto r = c.request("GET", path);
        ASSERT_TRUE(r.has_value()) << path;
        EXPECT_EQ(r->status, 404u) << path;
        EXPECT_EQ(r->header("content-type"), "text/plain; charset=utf-8") << path;
        EXPECT_FALSE(r->body.empty()) << path;
    }
}

TEST_F(HttpServer, other_methods_are_405_with_allow_on_any_path) {
    start();
    client c(port());
    ASSERT_TRUE(c.send("POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\na=1"));
    const auto post = c.read_reply();
    ASSERT_TRUE(post.has_value());
    EXPECT_EQ(post->status, 405u);
    EXPECT_EQ(post->header("allow"), "GET, HEAD");
    for (const char* method : {"PUT", "DELETE", "OPTIONS", "PATCH"}) {
        for (const char* path : {"/healthz", "/nope"}) {
            const auto r = c.request(method, path);
            ASSERT_TRUE(r.has_value()) << method << " " << path;
            EXPECT_EQ(r->status, 405u) << method << " " << path;
            EXPECT_EQ(r->header("allow"), "GET, HEAD") << method << " " << path;
        }
    }
}

TEST_F(HttpServer, query_string_is_ignored) {
    start();
    client c(port());
    const auto r = c.request("GET", "/metrics?x=1&name[]=up");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, "corostorm_up 1\n");
    const auto empty_query = c.request("GET", "/healthz?");
    ASSERT_TRUE(empty_query.has_value());
    EXPECT_EQ(empty_query->status, 200u);
}

// The replies to "GET /healthz" then "GET /status", read in that order from `c`.
void expect_healthz_then_status(client& c) {
    const auto first = c.read_reply();
    const auto second = c.read_reply();
    ASSERT_TRUE(first.has_value());
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(first->body, "ok\n");
    EXPECT_EQ(second->body, R"({"stage":"warmup"})");
}

TEST_F(HttpServer, keep_alive_serves_several_requests_on_one_connection) {
    start();
    client c(port());
    for (int i = 0; i < 3; ++i) {
        const auto r = c.request("GET", "/healthz");
        ASSERT_TRUE(r.has_value()) << i;
        EXPECT_EQ(r->status, 200u);
        EXPECT_NE(lower(r->header("connection")), "close");
    }
    // Pipelined: two requests in one write, two replies in order.
    ASSERT_TRUE(
        c.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
               "GET /status HTTP/1.1\r\nHost: t\r\n\r\n"));
    expect_healthz_then_status(c);
    EXPECT_EQ(server_->active_connections(), 1u);
}

TEST_F(HttpServer, connection_close_is_honoured) {
    start();
    client c(port());
    const auto r = c.request("GET", "/healthz", "Connection: close\r\n");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(lower(r->header("connection")), "close");
    EXPECT_TRUE(c.closed_by_peer(io_timeout));
}

// Every boundary falls somewhere: inside a token, between CR and LF, right
// before the blank line. Two requests, so that the second starts mid-buffer.
TEST_F(HttpServer, requests_split_into_one_byte_writes_are_served) {
    start();
    client c(port());
    ASSERT_TRUE(
        c.send_byte_by_byte("GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: b\r\n\r\n"
                            "GET /status?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"));
    expect_healthz_then_status(c);
}

TEST_F(HttpServer, half_closed_client_gets_its_whole_reply_then_the_server_closes) {
    start();
    client c(port());
    ASSERT_TRUE(c.send("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"));
    c.shut_write();
    const auto r = c.read_reply();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "corostorm_up 1\n");
    EXPECT_TRUE(c.closed_by_peer(io_timeout));
    ASSERT_TRUE(eventually([&] { return server_->active_connections() == 0; }));
}

// Half-closed in the middle of a request: nothing is answered as if it were whole.
TEST_F(HttpServer, half_closed_mid_request_is_closed_without_an_answer) {
    start();
    client c(port());
    ASSERT_TRUE(c.send("GET /metrics HTTP/1.1\r\nHost:"));
    c.shut_write();
    EXPECT_EQ(c.read_to_close(), "");
    expect_serving();
}

TEST_F(HttpServer, malformed_request_line_gets_400_and_close_and_others_are_served) {
    start();
    for (const char* garbage : {"GARBAGE\r\n\r\n", "GET /metrics HTTP/9\r\n\r\n", "GET\r\n\r\n",
                                "\x01\x02\x03 / HTTP/1.1\r\n\r\n"}) {
        client c(port());
        ASSERT_TRUE(c.send(garbage));
        // The whole request arrives in one read, so the server closes with nothing
        // unread and the reply cannot be lost to a reset.
        EXPECT_EQ(c.read_to_close().substr(0, 12), "HTTP/1.1 400") << garbage;
        expect_serving();
    }
}

// No route takes a body and a request with Transfer-Encoding is how bodies get
// smuggled past a proxy that frames them differently: any Transfer-Encoding,
// known coding or not, well-formed or not, is refused, never served.
TEST_F(HttpServer, any_transfer_encoding_gets_400_and_close) {
    start();
    for (const char* field : {
             "Transfer-Encoding: xchunked\r\n",
             "Transfer-Encoding: chunkedx\r\n",
             "Transfer-Encoding: chunked\r\n",
             "transfer-encoding: CHUNKED\r\n",
             "Transfer-Encoding: identity\r\n",
             "Transfer-Encoding: gzip\r\n",
             "Transfer-Encoding: chunked, identity\r\n",
             "Transfer-Encoding: ,\r\n",
             "Transfer-Encoding:\r\n",
             "Transfer-Encoding: \"chunked\"\r\n",
             "Transfer-Encoding: chunked\r\nTransfer-Encoding: xchunked\r\n",
             "Transfer-Encoding: xchunked\r\nContent-Length: 0\r\n",
         }) {
        client c(port());
        // A complete chunked body (an empty one) follows in the same write where the
        // header announces chunked, so nothing is left unread to provoke a reset.
        const std::string body = std::string(field).find("hunked") != std::string::npos ? "0\r\n\r\n" : "";
        ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: t\r\n" + std::string(field) + "\r\n" + body));
        EXPECT_EQ(c.read_to_close().substr(0, 12), "HTTP/1.1 400") << field;
    }
    expect_serving();
}

// TE (not Transfer-Encoding) lists the transfer codings a client accepts in a
// response. The server frames every response with Content-Length and applies no
// transfer coding, so TE has nothing to select: its value is ignored, valid or
// not, and the answer is the same as without it.
TEST_F(HttpServer, te_header_is_ignored_and_the_response_is_not_transfer_coded) {
    start();
    client c(port());
    for (const char* te : {"xchunked", "trailers", "chunked;q=0.5, gzip", "", ";;;"}) {
        const auto r = c.request("GET", "/healthz", "TE: " + std::string(te) + "\r\nConnection: TE\r\n");
        ASSERT_TRUE(r.has_value()) << te;
        EXPECT_EQ(r->status, 200u) << te;
        EXPECT_EQ(r->body, "ok\n") << te;
        EXPECT_EQ(r->header("transfer-encoding"), "") << te;
        EXPECT_EQ(r->header("content-length"), "3") << te;
    }
}

// What a gzip member holds, or "(not gzip)".
std::string gunzip(const std::string& packed) {
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 16) != Z_OK) return "(not gzip)";
    std::string out(1 << 20, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
    zs.avail_in = static_cast<uInt>(packed.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    inflateEnd(&zs);
    return rc == Z_STREAM_END ? out : "(not gzip)";
}

// Prometheus always sends Accept-Encoding: gzip; a page of text metrics shrinks
// several times. Small answers, and clients that refuse gzip, get the body as is.
TEST_F(HttpServer, a_large_answer_is_gzipped_when_the_client_accepts_gzip) {
    routes r = test_routes();
    std::string page;
    for (int i = 0; page.size() < 64 * 1024; ++i) {
        page += "corostorm_tasks_live{engine=\"lean\",workload=\"w" + std::to_string(i % 16) + "\"} " +
                std::to_string(i) + "\n";
    }
    r.metrics = [page] { return response{200, "text/plain; version=0.0.4; charset=utf-8", page}; };
    start({}, r);
    client c(port());
    for (const char* accept :
         {"gzip", "deflate, gzip;q=0.8", "GZIP", "x-gzip", "*", "br;q=1.0, gzip;q=0.001"}) {
        const auto g = c.request("GET", "/metrics", std::string("Accept-Encoding: ") + accept + "\r\n");
        ASSERT_TRUE(g.has_value()) << accept;
        EXPECT_EQ(g->header("content-encoding"), "gzip") << accept;
        EXPECT_EQ(g->header("vary"), "Accept-Encoding") << accept;
        EXPECT_EQ(g->header("content-type"), "text/plain; version=0.0.4; charset=utf-8") << accept;
        EXPECT_LT(g->body.size() * 4, page.size()) << accept;
        EXPECT_EQ(gunzip(g->body), page) << accept;
    }
    // HEAD: the headers of the gzip GET, without the body.
    const auto gzip_get = c.request("GET", "/metrics", "Accept-Encoding: gzip\r\n");
    const auto gzip_head = c.request("HEAD", "/metrics", "Accept-Encoding: gzip\r\n");
    ASSERT_TRUE(gzip_get.has_value() && gzip_head.has_value());
    EXPECT_EQ(gzip_head->header("content-length"), gzip_get->header("content-length"));
    EXPECT_EQ(gzip_head->header("content-encoding"), "gzip");
    for (const char* refuse : {"", "identity", "gzip;q=0", "gzip; q=0.000, deflate", "br", "gzipx"}) {
        const std::string header = *refuse == '\0' ? "" : std::string("Accept-Encoding: ") + refuse + "\r\n";
        const auto plain = c.request("GET", "/metrics", header);
        ASSERT_TRUE(plain.has_value()) << refuse;
        EXPECT_EQ(plain->header("content-encoding"), "") << refuse;
        EXPECT_EQ(plain->body, page) << refuse;
    }
    // Below 1 KiB nothing is compressed.
    const auto small = c.request("GET", "/healthz", "Accept-Encoding: gzip\r\n");
    ASSERT_TRUE(small.has_value());
    EXPECT_EQ(small->header("content-encoding"), "");
    EXPECT_EQ(small->body, "ok\n");
}

TEST_F(HttpServer, oversized_header_is_rejected_and_others_are_served) {
    server_limits limits;
    limits.max_header_bytes = 1024;
    start(limits);
    client c(port());
    c.send("GET /metrics HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
    // The server closes with part of the header unread, so a reset may beat the
    // reply to the client; either way the connection ends.
    const std::string answer = c.read_to_close();
    if (!answer.empty()) {
        EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 431");
    }
    expect_serving();
}

// The header limit counts every field, however small each is.
TEST_F(HttpServer, many_small_header_fields_count_towards_the_header_limit) {
    server_limits limits;
    limits.max_header_bytes = 1024;
    start(limits);
    std::string within;
    for (int i = 0; i < 100; ++i) {
        within += "a:\r\n";  // 400 bytes of fields
    }
    client ok(port());
    const auto r = ok.request("GET", "/healthz", within);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200u);

    std::string beyond;
    for (int i = 0; i < 2000; ++i) {
        beyond += "a:\r\n";  // 8000 bytes of fields
    }
    client c(port());
    c.send("GET /healthz HTTP/1.1\r\nHost: t\r\n" + beyond + "\r\n");
    const std::string answer = c.read_to_close();  // a reset may beat the reply, as above
    if (!answer.empty()) {
        EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 431");
    }
    EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos);
    expect_serving();
}

TEST_F(HttpServer, oversized_body_is_413_and_small_body_is_tolerated) {
    start();
    client small(port());
    ASSERT_TRUE(small.send("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
    const auto ok = small.read_reply();
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->status, 200u);

    client big(port());
    big.send("GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, 'b'));
    const std::string answer = big.read_to_close();  // a reset may beat the reply, as above
    if (!answer.empty()) {
        EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 413");
    }
    expect_serving();
}

TEST_F(HttpServer, slow_client_is_cut_off_at_the_timeout_while_others_are_served) {
    server_limits limits;
    limits.request_timeout_ms = 300;
    start(limits);
    const auto began = clock_type::now();
    client slow(port());
    slow.send("GET /metrics HTTP/1.1\r\nX-Slow: ");
    bool others_served = false;
    // A header that never ends, one byte every 20 ms: only the deadline can end it.
    while (!slow.readable() && clock_type::now() - began < io_timeout) {
        slow.send("a");
        if (!others_served) {
            expect_serving();
            others_served = true;
        }
        std::this_thread::sleep_for(20ms);
    }
    const auto elapsed = clock_type::now() - began;
    EXPECT_TRUE(others_served);
    EXPECT_TRUE(slow.closed_by_peer(0ms));
    EXPECT_GE(elapsed, 300ms);
    EXPECT_LT(elapsed, io_timeout);
    expect_serving();
}

TEST_F(HttpServer, a_connection_beyond_the_limit_evicts_the_one_waiting_longest_and_is_served) {
    server_limits limits;
    limits.max_connections = 3;
    start(limits);
    // Three connections that never send a byte hold every slot, oldest first.
    std::vector<std::unique_ptr<client>> idle;
    for (std::size_t i = 0; i < 3; ++i) {
        idle.push_back(std::make_unique<client>(port()));
        ASSERT_TRUE(eventually([&] { return server_->active_connections() == i + 1; }));
    }

    // A scraper still gets in: the oldest idle connection makes room.
    client scraper(port());
    const auto r = scraper.request("GET", "/healthz");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200u);
    EXPECT_TRUE(idle[0]->closed_by_peer(io_timeout));
    EXPECT_FALSE(idle[1]->readable());
    EXPECT_FALSE(idle[2]->readable());
    EXPECT_EQ(server_->evicted_connections(), 1u);
    EXPECT_EQ(server_->active_connections(), 3u);

    // The survivors are still served.
    const auto survivor = idle[1]->request("GET", "/healthz");
    ASSERT_TRUE(survivor.has_value());
    EXPECT_EQ(survivor->status, 200u);

    // A slot freed by a client is reused without evicting anyone.
    idle.pop_back();
    ASSERT_TRUE(eventually([&] { return server_->active_connections() == 2; }));
    expect_serving();
    EXPECT_EQ(server_->evicted_connections(), 1u);
}

TEST_F(HttpServer, eviction_order_is_how_long_each_connection_has_waited_for_a_whole_request) {
    server_limits limits;
    limits.max_connections = 3;
    start(limits);
    client trickling(port());  // oldest, and never finishes its request
    ASSERT_TRUE(trickling.send("GET /metrics HTTP/1.1\r\nX-Slow: a"));
    ASSERT_TRUE(eventually([&] { return server_->active_connections() == 1; }));
    client served(port());
    ASSERT_TRUE(eventually([&] { return server_->active_connections() == 2; }));
    client silent(port());
    ASSERT_TRUE(eventually([&] { return server_->active_connections() == 3; }));
    // Bytes that trickle in do not make a request young again; a served request does.
    ASSERT_TRUE(trickling.send("b"));
    const auto r = served.request("GET", "/healthz");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200u);

    client first(port());
    EXPECT_TRUE(trickling.closed_by_peer(io_timeout));
    client second(port());
    EXPECT_TRUE(silent.closed_by_peer(io_timeout));
    EXPECT_FALSE(served.readable());
    const auto again = served.request("GET", "/healthz");
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->status, 200u);
    EXPECT_EQ(server_->evicted_connections(), 2u);
}

// Under a flood every slot turns over within milliseconds; a connection being
// answered, its reader slower than that, must not lose its response halfway.
TEST_F(HttpServer, a_connection_being_answered_is_spared_while_a_waiting_one_can_be_evicted) {
    server_limits limits;
    limits.max_connections = 3;
    constexpr std::size_t page = 4 * 1024 * 1024;  // far beyond both ends' socket buffers
    routes r = test_routes();
    r.status = [] { return response{200, "text/plain", std::string(page, 's')}; };
    start(limits, std::move(r));
    // Oldest in the eviction order: its request was received before the others connected.
    client reading_slowly(port());
    ASSERT_TRUE(reading_slowly.send("GET /status HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(eventually([&] { return reading_slowly.readable(); }));
    client idle(port());
    client silent(port());
    ASSERT_TRUE(eventually([&] { return server_->active_connections() == 3; }));

    client scraper(port());
    const auto served = scraper.request("GET", "/healthz");
    ASSERT_TRUE(served.has_value());
    EXPECT_EQ(served->status, 200u);
    EXPECT_TRUE(idle.closed_by_peer(io_timeout));
    EXPECT_FALSE(silent.readable());
    const auto whole = reading_slowly.read_reply();
    ASSERT_TRUE(whole.has_value());
    EXPECT_EQ(whole->body.size(), page);
    EXPECT_EQ(server_->evicted_connections(), 1u);
}

// When every slot is being answered, a scraper still gets in: the connection
// answered longest makes room.
TEST_F(HttpServer, with_every_connection_being_answered_the_one_answered_longest_makes_room) {
    server_limits limits;
    limits.max_connections = 2;
    constexpr std::size_t page = 4 * 1024 * 1024;
    routes r = test_routes();
    r.status = [] { return response{200, "text/plain", std::string(page, 's')}; };
    start(limits, std::move(r));
    std::vector<std::unique_ptr<client>> stalled;
    for (int i = 0; i < 2; ++i) {
        stalled.push_back(std::make_unique<client>(port()));
        ASSERT_TRUE(stalled.back()->send("GET /status HTTP/1.1\r\nHost: t\r\n\r\n"));
        ASSERT_TRUE(eventually([&] { return stalled.back()->readable(); }));
    }
    client scraper(port());
    const auto served = scraper.request("GET", "/healthz");
    ASSERT_TRUE(served.has_value());
    EXPECT_EQ(served->status, 200u);
    EXPECT_EQ(server_->evicted_connections(), 1u);
    // The first one's response ends short of its length; the second's is whole.
    EXPECT_LT(stalled[0]->read_to_close().size(), page);
    const auto whole = stalled[1]->read_reply();
    ASSERT_TRUE(whole.has_value());
    EXPECT_EQ(whole->body.size(), page);
}

TEST_F(HttpServer, a_flood_of_connections_leaves_at_most_the_limit_open_and_a_scraper_served) {
    server_limits limits;
    limits.max_connections = 8;
    start(limits);
    std::vector<std::unique_ptr<client>> flood;
    for (int i = 0; i < 100; ++i) {
        flood.push_back(std::make_unique<client>(port()));
    }
    ASSERT_TRUE(eventually([&] { return server_->evicted_connections() == 92; }));
    EXPECT_EQ(server_->active_connections(), 8u);
    // Connections are accepted in the order they were made, so the oldest went.
    for (std::size_t i = 0; i < flood.size(); ++i) {
        if (i < 92) {
            EXPECT_TRUE(flood[i]->closed_by_peer(io_timeout)) << i;
        } else {
            EXPECT_FALSE(flood[i]->readable()) << i;
        }
    }
    expect_serving();
    EXPECT_EQ(server_->evicted_connections(), 93u);
}

// Takes every descriptor the process may still open, as the rest of a daemon
// might (echo connections, files), under a soft limit lowered for the test;
// gives them back, and the limit, when destroyed.
class descriptor_hog {
public:
    descriptor_hog() {
        ::getrlimit(RLIMIT_NOFILE, &saved_);
        rlimit lowered = saved_;
        lowered.rlim_cur = std::min<rlim_t>(saved_.rlim_cur, 1024);  // a few hundred taken at most
        ::setrlimit(RLIMIT_NOFILE, &lowered);
        take_all();
    }
    ~descriptor_hog() {
        for (const int fd : fds_) {
            ::close(fd);
        }
        ::setrlimit(RLIMIT_NOFILE, &saved_);
    }
    descriptor_hog(const descriptor_hog&) = delete;
    descriptor_hog& operator=(const descriptor_hog&) = delete;

    // Takes whatever descriptors were freed since.
    void take_all() {
        for (;;) {
            const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                return;
            }
            fds_.push_back(fd);
        }
    }

    // Frees one descriptor, for a client socket of the test.
    void give_back_one() {
        ASSERT_FALSE(fds_.empty());
        ::close(fds_.back());
        fds_.pop_back();
    }

private:
    rlimit saved_{};
    std::vector<int> fds_;
};

// Out of descriptors, accept() fails (EMFILE) long before max_connections are
// open, so the eviction that makes room for a scraper never ran: the server
// retried the failing accept while its idle connections held every slot.
TEST_F(HttpServer, out_of_descriptors_a_new_connection_evicts_the_one_waiting_longest_and_is_served) {
#if defined(__SANITIZE_ADDRESS__)
    // The dev preset pairs ASan with UBSan, whose vptr check opens descriptors
    // of its own: with none left it reports every virtual call.
    GTEST_SKIP() << "UBSan needs descriptors of its own";
#endif
    start();
    std::vector<std::unique_ptr<client>> idle;
    for (std::size_t i = 0; i < 3; ++i) {
        idle.push_back(std::make_unique<client>(port()));
        ASSERT_TRUE(eventually([&] { return server_->active_connections() == i + 1; }));
    }
    descriptor_hog hog;
    for (std::size_t i = 0; i < 3; ++i) {
        // The test's own socket takes the one descriptor freed; the server has none.
        hog.give_back_one();
        {
            client scraper(port());
            const auto r = scraper.request("GET", "/healthz", "Connection: close\r\n");
            ASSERT_TRUE(r.has_value()) << i;
            EXPECT_EQ(r->status, 200u) << i;
            EXPECT_TRUE(scraper.closed_by_peer(io_timeout));
        }
        EXPECT_TRUE(idle[i]->closed_by_peer(io_timeout)) << i;
        // The server closed its end of the scraper's connection: what that and the
        // eviction freed goes back to the hog, so the next round is again at the limit.
        ASSERT_TRUE(eventually([&] { return server_->active_connections() == 2 - i; }));
        hog.take_all();
    }
    EXPECT_EQ(server_->evicted_connections(), 3u);
}

// Out of descriptors with none of its own to close (the rest of the process
// holds them all), the server still takes a scraper: it keeps one descriptor
// in reserve for that moment.
TEST_F(HttpServer, out_of_descriptors_with_no_connection_open_a_scraper_is_still_served) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "UBSan needs descriptors of its own";
#endif
    start();
    descriptor_hog hog;
    hog.give_back_one();
    for (int i = 0; i < 3; ++i) {
        client scraper(port());
        const auto r = scraper.request("GET", "/metrics");
        ASSERT_TRUE(r.has_value()) << i;
        EXPECT_EQ(r->status, 200u) << i;
        EXPECT_EQ(r->body, "corostorm_up 1\n") << i;
    }
}

// Connections that queue up while the server thread is busy (here, in a slow
// route) are all accepted once it is free, not one per new arrival.
TEST_F(HttpServer, connections_queued_while_the_server_is_busy_are_all_served) {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    routes r = test_routes();
    r.status = [released] {
        released.wait();
        return response{200, "text/plain", "done\n"};
    };
    start({}, std::move(r));
    client busy(port());
    ASSERT_TRUE(busy.send("GET /status HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(eventually([&] { return server_->active_connections() == 1; }));
    std::vector<std::unique_ptr<client>> queued;
    for (int i = 0; i < 5; ++i) {
        queued.push_back(std::make_unique<client>(port()));
        ASSERT_TRUE(queued.back()->send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
    }
    std::this_thread::sleep_for(50ms);  // all five in the listen queue at once
    release.set_value();
    for (auto& c : queued) {
        const auto reply = c->read_reply();
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(reply->status, 200u);
    }
    const auto slow = busy.read_reply();
    ASSERT_TRUE(slow.has_value());
    EXPECT_EQ(slow->body, "done\n");
}

TEST_F(HttpServer, zero_connection_limit_closes_every_connection) {
    server_limits limits;
    limits.max_connections = 0;
    start(limits);
    client c(port());
    EXPECT_TRUE(c.closed_by_peer(io_timeout));
    EXPECT_EQ(server_->evicted_connections(), 1u);
    EXPECT_EQ(server_->active_connections(), 0u);
}

TEST_F(HttpServer, client_that_never_reads_its_response_is_cut_off_at_the_timeout_while_others_are_served) {
    server_limits limits;
    limits.request_timeout_ms = 300;
    routes r = test_routes();
    // Far more than the socket buffers of both ends hold, so the write blocks.
    constexpr std::size_t big = 64 * 1024 * 1024;
    r.status = [] { return response{200, "text/plain", std::string(big, 'x')}; };
    start(limits, std::move(r));

    client stuck(port());
    ASSERT_TRUE(stuck.send("GET /status HTTP/1.1\r\nHost: t\r\n\r\n"));
    // The server gives up on the write and closes while the client still reads nothing.
    expect_serving();
    ASSERT_TRUE(eventually([&] { return server_->active_connections() == 0; }));
    const std::string received = stuck.read_to_close();
    EXPECT_GT(received.size(), 0u);
    EXPECT_LT(received.size(), big);
    expect_serving();
}

// Each pipelining client that never reads holds the server's response to its
// first request (the others wait unread behind it). Without a bound on what is
// queued for all connections together, clients x page bytes stay in memory
// until the write timeout; with it, the connections that have waited longest
// for their reader are closed once the total is reached.
TEST_F(HttpServer, responses_nobody_reads_are_bounded_in_total_and_others_are_served) {
    server_limits limits;
    limits.request_timeout_ms = 120'000;  // only the bound may close anyone within the test
    constexpr std::size_t page = 4 * 1024 * 1024;
    constexpr std::size_t clients = 24;
    static_assert(clients * page > 4 * server_limits{}.max_queued_bytes, "the flood must exceed the bound");
    routes r = test_routes();
    r.metrics = [] { return response{200, "text/plain", std::string(page, 'm')}; };
    start(limits, std::move(r));

    std::string pipelined;
    for (int i = 0; i < 20; ++i) {
        pipelined += "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
    }
    std::vector<std::unique_ptr<client>> flood;
    for (std::size_t i = 0; i < clients; ++i) {
        flood.push_back(std::make_unique<client>(port()));
        flood.back()->small_receive_buffer();
        ASSERT_TRUE(flood.back()->send(pipelined));
    }
    // The bytes pending for unread responses fit the bound (plus the page being
    // answered): the connections beyond it are closed, not kept for 120 s.
    const std::size_t may_stay = server_limits{}.max_queued_bytes / page + 1;
    const auto still_open = [&] {
        return static_cast<std::size_t>(
            std::count_if(flood.begin(), flood.end(), [](const auto& c) { return !c->ended_by_peer(); }));
    };
    EXPECT_TRUE(eventually([&] { return still_open() <= may_stay; })) << still_open() << " still open";
    EXPECT_GE(server_->evicted_connections(), clients - may_stay);
    expect_serving();
    // A scrape that reads is answered in full while the rest stay unread.
    client scraper(port());
    const auto reply = scraper.request("GET", "/metrics");
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->body.size(), page);
}

TEST_F(HttpServer, throwing_route_answers_500_and_the_server_stays_up) {
    routes r = test_routes();
    r.metrics = []() -> response { throw std::runtime_error("collector failed"); };
    r.status = [] { return response{42, "text/plain", "not a status"}; };
    start({}, std::move(r));
    client c(port());
    const auto thrown = c.request("GET", "/metrics");
    ASSERT_TRUE(thrown.has_value());
    EXPECT_EQ(thrown->status, 500u);
    EXPECT_FALSE(thrown->body.empty());
    EXPECT_EQ(thrown->header("cache-control"), "no-store");
    const auto bad_status = c.request("GET", "/status");
    ASSERT_TRUE(bad_status.has_value());
    EXPECT_EQ(bad_status->status, 500u);
    // Same connection, still alive.
    const auto ok = c.request("GET", "/healthz");
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->status, 200u);
    EXPECT_EQ(server_->internal_errors(), 2u);
}

TEST_F(HttpServer, unset_route_is_404) {
    routes r = test_routes();
    r.status = nullptr;
    start({}, std::move(r));
    client c(port());
    const auto reply = c.request("GET", "/status");
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->status, 404u);
}

TEST_F(HttpServer, binding_a_port_in_use_throws_naming_the_address) {
    start();
    const std::string address = "127.0.0.1:" + std::to_string(port());
    try {
        http_server second("127.0.0.1", port(), test_routes());
        FAIL() << "a second server bound " << address;
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot listen on " + address), std::string::npos) << e.what();
        EXPECT_EQ(e.code(), std::errc::address_in_use) << e.what();
    }
    expect_serving();
}

TEST(HttpServerBind, invalid_host_throws_naming_it) {
    try {
        http_server s("not-an-address", 0, test_routes());
        FAIL() << "bound " << s.local_address();
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot listen on not-an-address:0"), std::string::npos)
            << e.what();
    }
}

TEST(HttpServerBind, local_address_reports_the_bound_port) {
    http_server s("127.0.0.1", 0, test_routes());
    EXPECT_NE(s.port(), 0);
    EXPECT_EQ(s.local_address(), "127.0.0.1:" + std::to_string(s.port()));
}

TEST(HttpServerBind, serves_ipv6_loopback) {
    std::optional<http_server> s;
    try {
        s.emplace("::1", 0, test_routes());
    } catch (const std::system_error& e) {
        GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
    }
    EXPECT_EQ(s->local_address(), "[::1]:" + std::to_string(s->port()));
    s->start();
    client c(s->port(), "::1");
    const auto r = c.request("GET", "/healthz");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200u);
}

TEST_F(HttpServer, stop_closes_connections_joins_and_is_idempotent) {
    start();
    client idle(port());
    client used(port());
    ASSERT_TRUE(used.request("GET", "/healthz").has_value());
    ASSERT_TRUE(eventually([&] { return server_->active_connections() == 2; }));

    server_->stop();
    EXPECT_EQ(server_->active_connections(), 0u);
    EXPECT_TRUE(idle.closed_by_peer(io_timeout));
    EXPECT_TRUE(used.closed_by_peer(io_timeout));
    EXPECT_THROW(client{port()}, std::system_error);  // nothing listens any more

    server_->stop();
    server_->start();  // a stopped server stays stopped
    EXPECT_THROW(client{port()}, std::system_error);
    server_.reset();  // the destructor stops once more
}

TEST(HttpServerLifetime, stop_without_start_and_destroy_are_fine) {
    http_server s("127.0.0.1", 0, test_routes());
    s.stop();
    s.stop();
}

}  // namespace
}  // namespace corostorm::server
