#include "runtime/io.h"

#include <boost/asio/socket_base.hpp>
#include <sys/socket.h>

#include <cerrno>

namespace corostorm::runtime {

void io_registry::cancel_all() noexcept {
    for (io_link* l = sentinel_.next_; l != &sentinel_; l = l->next_) l->cancel_(l->target_);
}

int start_connect(lean_socket& socket, const tcp::endpoint& peer) noexcept {
    if (::connect(socket.native_handle(), peer.data(), static_cast<socklen_t>(peer.size())) == 0) return 0;
    return errno;
}

int connect_result(lean_socket& socket) noexcept {
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
    return error;
}

bool set_non_blocking(lean_socket& socket) noexcept {
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    return !ec;
}

tcp::socket rebind(lean_socket&& socket, const boost::asio::any_io_executor& executor) {
    const auto protocol = socket.local_endpoint().protocol();
    return tcp::socket(executor, protocol, socket.release());
}

tcp::acceptor open_loopback_listener(const boost::asio::any_io_executor& executor,
                                     boost::system::error_code& ec) {
    tcp::acceptor acceptor(executor);
    const tcp::endpoint any_port(boost::asio::ip::address_v4::loopback(), 0);
    acceptor.open(any_port.protocol(), ec);
    if (!ec) acceptor.bind(any_port, ec);
    if (!ec) acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (!ec) acceptor.non_blocking(true, ec);
    return acceptor;
}

bool is_resource_exhaustion(const boost::system::error_code& ec) noexcept {
    if (ec.category() != boost::system::system_category()) return false;
    switch (ec.value()) {
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            return true;
        default:
            return false;
    }
}

}  // namespace corostorm::runtime
