// The I/O workloads (echo, rpc) on both engines and both layouts: real
// loopback sockets on the workers' io_contexts.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <thread>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/clock.h"
#include "runtime/pool.h"
#include "support/totals.h"
#include "support/wait.h"
#include "workloads/echo.h"
#include "workloads/rpc.h"

namespace corostorm::workloads {
namespace {

using namespace std::chrono_literals;
using testing::totals;
using testing::wait_for;

std::size_t open_fds() {
    std::size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d) != nullptr) ++n;
        ::closedir(d);
    }
    return n;
}

// Inodes of this process's sockets ("socket:[N]" links in /proc/self/fd).
std::set<std::string> own_socket_inodes() {
    std::set<std::string> inodes;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (const dirent* e = ::readdir(d)) {
            char target[64] = {};
            const std::string link = std::string("/proc/self/fd/") + e->d_name;
            const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
            const std::string t(target, n > 0 ? static_cast<std::size_t>(n) : 0);
            if (t.rfind("socket:[", 0) == 0) inodes.insert(t.substr(8, t.size() - 9));
        }
        ::closedir(d);
    }
    return inodes;
}

// Ports this process (not others in the network namespace, which
// /proc/self/net/tcp also lists) listens on at 127.0.0.1.
std::vector<std::uint16_t> loopback_listen_ports() {
    const auto mine = own_socket_inodes();
    std::ifstream in("/proc/self/net/tcp");
    std::string line;
    std::getline(in, line);
    std::vector<std::uint16_t> ports;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
        fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >>
            inode;
        if (state == "0A" && local.rfind("0100007F:", 0) == 0 && mine.count(inode) != 0) {
            ports.push_back(static_cast<std::uint16_t>(std::stoul(local.substr(9), nullptr, 16)));
        }
    }
    return ports;
}

// A blocking client socket of the test's own, connected to 127.0.0.1:port.
int connect_loopback(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Closes with a reset (SO_LINGER 0) instead of an orderly end of stream.
void reset(int fd) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
}

struct io_case {
    bool asio;
    bool shared;
};
std::string name_of(const ::testing::TestParamInfo<io_case>& info) {
    return std::string(info.param.asio ? "asio" : "lean") + (info.param.shared ? "_shared" : "_per_thread");
}
const auto all_cases =
    ::testing::Values(io_case{false, false}, io_case{true, false}, io_case{false, true}, io_case{true, true});

runtime::layout layout_of(const io_case& c) {
    return c.shared ? runtime::layout::shared : runtime::layout::per_thread;
}

engine engine_of(const io_case& c) { return c.asio ? engine::asio : engine::lean; }

class Echo : public ::testing::TestWithParam<io_case> {};

TEST_P(Echo, every_unit_is_a_connection_whose_messages_come_back_and_a_drain_closes_them_all) {
    const std::size_t fds_before = open_fds();
    {
        const echo_options echo_params{.period_ns = 5'000'000, .message = 100};
        auto echo = make_workload<echo_connections>(engine_of(GetParam()), echo_params);
        runtime::pool p(2, {echo.get()}, {}, layout_of(GetParam()));
        p.start();
        p.set_targets({runtime::target_ramp{0, 100, runtime::now_ns(), 0}});  // 50 connections
        ASSERT_TRUE(wait_for([&] { return totals(p).connections == 50 && totals(p).live == 100; }));
        ASSERT_TRUE(wait_for([&] { return totals(p).round_trips >= 1000; }));
        // Each unit holds its two ends (plus the workers' listeners).
        EXPECT_GE(open_fds(), fds_before + 100);
        EXPECT_TRUE(p.stop(10s));
        const auto t = totals(p);
        EXPECT_EQ(t.error, 0u);
        EXPECT_EQ(t.live, 0u);
        EXPECT_EQ(t.connections, 0u);
        EXPECT_EQ(t.spawned, t.ok + t.cancelled);
        // The client resumes once per wake-up and once per echo at least.
        EXPECT_GE(t.resumes, 2 * t.round_trips);
        if (!GetParam().asio) {
            EXPECT_GT(t.io_wakeups, 0u) << "lean socket wake-ups are recorded as source io";
        }
    }
    EXPECT_EQ(open_fds(), fds_before) << "every socket and listener closed";
}

TEST_P(Echo, a_peer_that_resets_ends_its_handler_with_error_and_the_rest_keeps_going) {
    const echo_options echo_params{.period_ns = 5'000'000, .message = 64};
    auto echo = make_workload<echo_connections>(engine_of(GetParam()), echo_params);
    runtime::pool p(1, {echo.get()}, {}, layout_of(GetParam()));
    p.start();
    p.set_targets({runtime::target_ramp{0, 20, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return totals(p).connections == 10; }));
    const auto ports = loopback_listen_ports();
    ASSERT_FALSE(ports.empty());
    // A foreign client is served like any other: what it sends comes back.
    const int fd = connect_loopback(ports.front());
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::send(fd, "ccc", 3, 0), 3);
    char back[3] = {};
    ASSERT_EQ(::recv(fd, back, sizeof back, MSG_WAITALL), 3);
    EXPECT_EQ(std::string(back, 3), "ccc");
    reset(fd);
    ASSERT_TRUE(wait_for([&] { return totals(p).error == 1; }));
    const std::uint64_t before = totals(p).round_trips;
    ASSERT_TRUE(wait_for([&] { return totals(p).round_trips >= before + 200; }));
    EXPECT_EQ(totals(p).connections, 10u);
    EXPECT_TRUE(p.stop(10s));
}

TEST_P(Echo, a_drain_does_not_wait_for_a_peer_that_never_sends) {
    const echo_options echo_params{.period_ns = 1'000'000'000, .message = 64};
    auto echo = make_workload<echo_connections>(engine_of(GetParam()), echo_params);
    runtime::pool p(1, {echo.get()}, {}, layout_of(GetParam()));
    p.start();
    p.set_targets({runtime::target_ramp{0, 4, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return totals(p).connections == 2; }));
    std::vector<int> idle;
    for (const std::uint16_t port : loopback_listen_ports()) idle.push_back(connect_loopback(port));
    ASSERT_TRUE(wait_for([&] { return totals(p).live == 4 + idle.size(); }));
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(p.stop(10s));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << "the stalled handlers were cancelled";
    EXPECT_EQ(totals(p).live, 0u);
    EXPECT_EQ(totals(p).error, 0u);
    for (const int fd : idle) ::close(fd);
}

TEST_P(Echo, the_descriptor_ceiling_caps_the_units_a_worker_spawns) {
    const echo_options echo_params{.period_ns = 100'000'000, .message = 64};
    auto echo = make_workload<echo_connections>(engine_of(GetParam()), echo_params);
    runtime::pool p(2, {echo.get()}, {}, layout_of(GetParam()));
    for (unsigned i = 0; i < p.size(); ++i) p.at(i).set_fd_ceiling(20);  // 10 units a worker
    p.start();
    p.set_targets({runtime::target_ramp{0, 1000, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return totals(p).connections == 20 && totals(p).denied_fds > 0; }));
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(totals(p).connections, 20u);
    EXPECT_EQ(totals(p).live, 40u);
    EXPECT_EQ(totals(p).error, 0u);
    EXPECT_TRUE(p.stop(10s));
}

TEST_P(Echo, foreign_connections_beyond_the_slack_are_refused) {
    const echo_options echo_params{.period_ns = 100'000'000, .message = 64};
    auto echo = make_workload<echo_connections>(engine_of(GetParam()), echo_params);
    runtime::pool p(1, {echo.get()}, {}, layout_of(GetParam()));
    p.start();
    p.set_targets({runtime::target_ramp{0, 20, runtime::now_ns(), 0}});  // 10 clients
    ASSERT_TRUE(wait_for([&] { return totals(p).connections == 10; }));
    const auto ports = loopback_listen_ports();
    ASSERT_FALSE(ports.empty());
    std::vector<int> foreign;
    for (std::size_t i = 0; i < 150; ++i) foreign.push_back(connect_loopback(ports[i % ports.size()]));
    // 10 clients, their 10 handlers and at most 10 + 64 foreign handlers; the
    // rest are accepted and closed at once (the peer reads the end of the stream).
    ASSERT_TRUE(wait_for([&] {
        std::size_t closed = 0;
        for (const int fd : foreign) {
            char c;
            if (::recv(fd, &c, 1, MSG_DONTWAIT) == 0) ++closed;
        }
        return closed >= 150 - 74;
    }));
    EXPECT_LE(totals(p).live, 20u + 74u);
    for (const int fd : foreign) ::close(fd);
    const std::uint64_t before = totals(p).round_trips;
    ASSERT_TRUE(wait_for([&] { return totals(p).round_trips >= before + 50; }));
    EXPECT_EQ(totals(p).error, 0u);
    EXPECT_TRUE(p.stop(10s));
}

TEST_P(Echo, without_descriptors_clients_end_with_error_and_the_workload_recovers) {
#if defined(__SANITIZE_ADDRESS__)
    // The dev preset pairs ASan with UBSan, whose vptr check opens descriptors
    // of its own to look at memory: with none left it reports every virtual
    // call. The release and tsan presets run this test.
    GTEST_SKIP() << "UBSan needs descriptors of its own";
#endif
    const echo_options echo_params{.period_ns = 10'000'000, .message = 64};
    auto echo = make_workload<echo_connections>(engine_of(GetParam()), echo_params);
    runtime::pool p(1, {echo.get()}, {}, layout_of(GetParam()));
    p.start();  // the io_context's own descriptors first
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    // No descriptor left: the listeners cannot open, clients cannot connect.
    rlimit none = saved;
    none.rlim_cur = open_fds() - 1;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &none), 0);
    p.set_targets({runtime::target_ramp{0, 20, runtime::now_ns(), 0}});
    const bool failed = wait_for([&] { return totals(p).error >= 10; });
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
    ASSERT_TRUE(failed) << "clients that cannot get a socket end with outcome error";
    EXPECT_EQ(totals(p).connections, 0u);
    // With descriptors back, the next spawns open the listeners and connect.
    ASSERT_TRUE(wait_for([&] { return totals(p).connections == 10; }));
    const std::uint64_t before = totals(p).round_trips;
    ASSERT_TRUE(wait_for([&] { return totals(p).round_trips >= before + 100; }));
    EXPECT_TRUE(p.stop(10s));
}

INSTANTIATE_TEST_SUITE_P(Engines, Echo, all_cases, name_of);

TEST(EchoFrames, a_lean_connection_costs_two_small_frames) {
    // A lean connection's frames are its client's and its handler's; with
    // Asio's descriptor states and pending wait they are the whole
    // user-space cost of a connection. GCC 12 lays them out in 400 bytes.
    const echo_options echo_params{.period_ns = 1'000'000'000, .message = 64};
    lean_workload<echo_connections> echo(echo_params);
    runtime::pool p(1, {&echo}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, 200, runtime::now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    ASSERT_TRUE(wait_for([&] { return s.connections.read() == 100 && s.live() == 200; }));
    const std::uint64_t per_connection = s.frame_bytes.read() / 100;
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
    EXPECT_EQ(per_connection, 400u);
#else
    EXPECT_LE(per_connection, 512u);
#endif
    EXPECT_TRUE(p.stop(10s));
}

class Rpc : public ::testing::TestWithParam<io_case> {};

TEST_P(Rpc, callers_share_a_few_connections_and_every_call_comes_back) {
    const std::size_t fds_before = open_fds();
    {
        const rpc_options rpc_params{.period_ns = 10'000'000, .message = 64, .connections = 4};
        auto rpc = make_workload<rpc_callers>(engine_of(GetParam()), rpc_params);
        runtime::pool p(2, {rpc.get()}, {}, layout_of(GetParam()));
        p.start();
        const std::size_t fds_started = open_fds();  // the io_contexts' own (epoll, eventfd, timerfd)
        p.set_targets({runtime::target_ramp{0, 2000, runtime::now_ns(), 0}});
        ASSERT_TRUE(wait_for([&] { return totals(p).live == 2000 && totals(p).connections == 4; }));
        const auto a = totals(p);
        const auto t0 = std::chrono::steady_clock::now();
        ASSERT_TRUE(wait_for([&] { return totals(p).round_trips >= a.round_trips + 20'000; }));
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double rate = static_cast<double>(totals(p).round_trips - a.round_trips) / seconds;
        // 2000 callers, one call each per 10 ms: 200k calls/s asked; the
        // rate is bounded by it (a call is never counted twice).
        EXPECT_LT(rate, 200'000 * 1.2);
        // 2 connections a worker, 4 descriptors each plus a listener: a
        // handful, whatever the number of callers.
        EXPECT_LE(open_fds(), fds_started + 4 * 2 + 2);
        EXPECT_TRUE(p.stop(10s));
        const auto t = totals(p);
        EXPECT_EQ(t.error, 0u);
        EXPECT_EQ(t.live, 0u);
        EXPECT_EQ(t.connections, 0u);
        EXPECT_EQ(t.spawned, t.ok + t.cancelled);
        EXPECT_GE(t.io_wakeups, t.round_trips - 2000) << "every reply resumes its caller under source io";
    }
    EXPECT_EQ(open_fds(), fds_before);
}

TEST_P(Rpc, a_foreign_client_of_the_server_side_gets_its_bytes_back) {
    const rpc_options rpc_params{.period_ns = 10'000'000, .message = 16, .connections = 1};
    auto rpc = make_workload<rpc_callers>(engine_of(GetParam()), rpc_params);
    runtime::pool p(1, {rpc.get()}, {}, layout_of(GetParam()));
    p.start();
    p.set_targets({runtime::target_ramp{0, 10, runtime::now_ns(), 0}});
    ASSERT_TRUE(wait_for([&] { return totals(p).round_trips >= 100; }));
    const auto ports = loopback_listen_ports();
    ASSERT_EQ(ports.size(), 1u);
    const int fd = connect_loopback(ports.front());
    ASSERT_GE(fd, 0);
    const std::string junk(1000, 'x');
    ASSERT_EQ(::send(fd, junk.data(), junk.size(), 0), static_cast<ssize_t>(junk.size()));
    std::string back(junk.size(), '\0');
    ASSERT_EQ(::recv(fd, back.data(), back.size(), MSG_WAITALL), static_cast<ssize_t>(back.size()));
    EXPECT_EQ(back, junk);
    reset(fd);
    const std::uint64_t before = totals(p).round_trips;
    ASSERT_TRUE(wait_for([&] { return totals(p).round_trips >= before + 100; }));
    EXPECT_EQ(totals(p).error, 0u);
    EXPECT_TRUE(p.stop(10s));
}

INSTANTIATE_TEST_SUITE_P(Engines, Rpc, all_cases, name_of);

TEST(RpcFrames, a_parked_caller_holds_nothing_but_its_frame) {
    // The call is a link inside the frame; GCC 12 lays a caller out in 152 bytes.
    const rpc_options rpc_params{.period_ns = 1'000'000'000, .message = 64, .connections = 2};
    lean_workload<rpc_callers> rpc(rpc_params);
    runtime::pool p(1, {&rpc}, {});
    p.start();
    p.set_targets({runtime::target_ramp{0, 1000, runtime::now_ns(), 0}});
    const auto& s = p.at(0).shard().workload(0);
    ASSERT_TRUE(wait_for([&] { return s.live() == 1000; }));
    const std::uint64_t per_task = s.frame_bytes.read() / 1000;
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
    EXPECT_EQ(per_task, 152u);
#else
    EXPECT_LE(per_task, 176u);
#endif
    EXPECT_TRUE(p.stop(10s));
}

}  // namespace
}  // namespace corostorm::workloads
