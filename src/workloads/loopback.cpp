#include "workloads/loopback.h"

#include <boost/asio/error.hpp>
#include <chrono>
#include <string>

namespace corostorm::workloads {

namespace asio = boost::asio;
using runtime::tcp;

std::string_view message_pattern() noexcept {
    static const std::string pattern(max_message, 'c');
    return pattern;
}

struct loopback_listeners::listener {
    explicit listener(tcp::acceptor a) : acceptor(std::move(a)), retry(acceptor.get_executor()) {}
    tcp::acceptor acceptor;
    asio::steady_timer retry;  // the pause after running out of descriptors
};

loopback_listeners::loopback_listeners(runtime::worker& w, unsigned count) : worker_(w), count_(count) {}

loopback_listeners::~loopback_listeners() = default;

void loopback_listeners::start(on_accept handler) {
    if (closed_ || !listeners_.empty()) return;
    std::vector<std::unique_ptr<listener>> opened;
    std::vector<tcp::endpoint> endpoints;
    for (unsigned i = 0; i < count_; ++i) {
        boost::system::error_code ec;
        tcp::acceptor acceptor = runtime::open_loopback_listener(worker_.executor(), ec);
        tcp::endpoint endpoint;
        if (!ec) endpoint = acceptor.local_endpoint(ec);
        // No listener: clients fail to connect and end with outcome error (see header).
        if (ec) return;
        opened.push_back(std::make_unique<listener>(std::move(acceptor)));
        endpoints.push_back(endpoint);
    }
    handler_ = std::move(handler);
    listeners_ = std::move(opened);
    endpoints_ = std::move(endpoints);
    for (auto& l : listeners_) accept(*l);
}

tcp::endpoint loopback_listeners::next_endpoint() noexcept {
    if (endpoints_.empty()) return tcp::endpoint(asio::ip::address_v4::loopback(), 0);
    next_ = (next_ + 1) % static_cast<unsigned>(endpoints_.size());
    return endpoints_[next_];
}

void loopback_listeners::close() noexcept {
    closed_ = true;
    for (auto& l : listeners_) {
        boost::system::error_code ignored;
        l->acceptor.close(ignored);
        l->retry.cancel();
    }
}

void loopback_listeners::accept(listener& l) {
    l.acceptor.async_accept(worker_.context(),
                            [this, &l](const boost::system::error_code& ec, runtime::lean_socket socket) {
                                if (closed_ || ec == asio::error::operation_aborted) return;
                                if (runtime::is_resource_exhaustion(ec)) {
                                    l.retry.expires_after(std::chrono::milliseconds(10));
                                    l.retry.async_wait([this, &l](const boost::system::error_code& wait_ec) {
                                        if (!wait_ec && !closed_) accept(l);
                                    });
                                    return;
                                }
                                if (!ec) {
                                    runtime::worker_binding bind(&worker_);
                                    try {
                                        handler_(std::move(socket));
                                    } catch (...) {
                                        // No memory for the handler's task: the socket closes, its
                                        // client sees the end of the stream and ends.
                                        worker_.count_spawn_failure();
                                    }
                                }
                                accept(l);
                            });
}

}  // namespace corostorm::workloads
