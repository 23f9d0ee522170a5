// What the I/O workloads (echo, rpc) share: a worker's loopback listeners
// and the bytes their messages are made of.
//
// Design note. Listeners are infrastructure, not tasks: plain Asio accept
// loops on the worker's executor, opened on first use, on 127.0.0.1 only,
// with ports the kernel chooses. Each accepted socket goes to the handler
// given to start(), inside a worker binding (the handler may spawn lean
// tasks). When accepting fails for want of descriptors or socket memory the
// loop pauses 10 ms and tries again (the pending connection waits in the
// backlog) rather than spinning on a level-triggered reactor. A listener
// that cannot be opened leaves next_endpoint() pointing at port 0, so the
// clients that would use it fail to connect and end with outcome error; the
// next start() tries again.
// Thread-safety: the owning worker's thread (or strand) only.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "runtime/io.h"

namespace corostorm::workloads {

// Largest message of echo and rpc (the config enforces it).
inline constexpr std::size_t max_message = 65536;

// max_message bytes of 'c': what echo messages and rpc payloads are made of.
std::string_view message_pattern() noexcept;

class loopback_listeners {
public:
    using on_accept = std::function<void(runtime::lean_socket)>;

    explicit loopback_listeners(runtime::worker& w, unsigned count = 4);
    ~loopback_listeners();
    loopback_listeners(const loopback_listeners&) = delete;
    loopback_listeners& operator=(const loopback_listeners&) = delete;

    // Opens the listeners if they are not open and accepts into `handler`.
    // No-op while open; does nothing after close().
    void start(on_accept handler);
    // The next listener's address, round robin (port 0 while none is open).
    runtime::tcp::endpoint next_endpoint() noexcept;
    // Stops accepting for good (a drain): pending accepts complete aborted.
    void close() noexcept;
    bool open() const noexcept { return !listeners_.empty(); }

private:
    struct listener;
    void accept(listener& l);

    runtime::worker& worker_;
    unsigned count_;
    bool closed_ = false;
    on_accept handler_;
    std::vector<std::unique_ptr<listener>> listeners_;
    std::vector<runtime::tcp::endpoint> endpoints_;
    unsigned next_ = 0;
};

}  // namespace corostorm::workloads
