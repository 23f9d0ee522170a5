// Socket I/O for lean tasks, on Asio's reactor.
//
// Design note. A lean task that waits for a socket starts an ordinary Asio
// asynchronous operation on the socket (async_wait) whose completion
// handler only records the result and makes the task runnable
// through its worker's ready queue, under latency source `io`: the time
// from the completion to the task's resume is the io scheduling latency.
// There is no asio::awaitable frame and no coroutine adaptor: the reactor
// (epoll, the descriptor states, the operation objects) is Asio's, the
// task is lean. Reading and writing are
// then done without waiting (non-blocking read_some / write_some), so a
// task that waits for data holds no buffer: it waits for readiness, not
// for bytes.
// Connecting is started without waiting (a blocking connect to a full
// listen backlog would hold the worker for a second) and awaited as
// writability.
// Lifetime: the awaiter lives in the task's frame across the suspension and
// the handler points at it; a socket must outlive the operations started on
// it. Cancelling the socket (close or cancel) completes a pending wait with
// operation_aborted, which is how a draining worker ends tasks parked in I/O
// (see io_registry).
// Thread-safety: a socket and its tasks belong to one worker. In the shared
// layout the completion runs on any pool thread and posts the wake-up to the
// worker's strand.
// Cost: one Asio operation object per pending wait (112 B, from the
// worker's slab in the per_thread layout; see wait_op_allocator); the
// handler captures three pointers.
#pragma once

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <utility>

#include "runtime/worker.h"

namespace corostorm::runtime {

using tcp = boost::asio::ip::tcp;
// A lean task's socket: bound to its worker's io_context directly (an
// executor of 8 bytes, where any_io_executor takes 56), so the socket in a
// frame is 40 bytes.
using lean_socket = boost::asio::basic_stream_socket<tcp, boost::asio::io_context::executor_type>;

// Asio allocates the operation object of a socket wait through the
// completion handler's associated allocator. In the per_thread layout it is
// this one: blocks from the worker's slab (8-byte size classes, no header,
// a freed block reused by the next wait), so the one wait a parked
// connection holds costs its exact size and bursts of waits do not
// fragment the heap. In the shared layout, where a completion may run on
// any pool thread, the heap (the slab has one owner thread).
template <class T>
class wait_op_allocator {
public:
    using value_type = T;
    explicit wait_op_allocator(frame_allocator* slab) noexcept : slab_(slab) {}
    template <class U>
    wait_op_allocator(const wait_op_allocator<U>& other) noexcept
        : slab_(other.slab()) {}  // NOLINT: rebinding

    T* allocate(std::size_t n) {
        const std::size_t bytes = n * sizeof(T);
        return static_cast<T*>(slab_ != nullptr ? slab_->allocate_untracked(bytes) : ::operator new(bytes));
    }
    void deallocate(T* p, std::size_t n) noexcept {
        if (slab_ != nullptr) {
            slab_->deallocate_untracked(p, n * sizeof(T));
        } else {
            ::operator delete(p);
        }
    }
    frame_allocator* slab() const noexcept { return slab_; }
    friend bool operator==(const wait_op_allocator& a, const wait_op_allocator& b) noexcept {
        return a.slab_ == b.slab_;
    }

private:
    frame_allocator* slab_;
};

// co_await wait_for(socket, type): waits until `socket` is readable or
// writable (or the wait fails); resumes with the errno value (0: ready).
// The awaiter lives in the frame across the suspension: 16 bytes.
class wait_for {
public:
    wait_for(lean_socket& socket, tcp::socket::wait_type type) noexcept : socket_(&socket), type_(type) {}

    bool await_ready() const noexcept { return false; }
    void await_suspend(task_handle h) {
        worker* w = &this_worker();
        socket_->async_wait(type_, boost::asio::bind_allocator(
                                       wait_op_allocator<void>(w->owns_context() ? &w->allocator() : nullptr),
                                       [this, w, h](const boost::system::error_code& ec) {
                                           error_ = ec.value();
                                           w->complete_io(h.promise().timer);
                                       }));
    }
    int await_resume() const noexcept { return error_; }

private:
    lean_socket* socket_;
    tcp::socket::wait_type type_;
    int error_ = 0;
};

// Starts connecting `socket` (opened, non-blocking) to `peer` without
// waiting: 0 when connected already, EINPROGRESS when the caller must wait
// for writability and then read connect_result(), else the errno value.
int start_connect(lean_socket& socket, const tcp::endpoint& peer) noexcept;
// The outcome of a connect started by start_connect (SO_ERROR): 0 or errno.
int connect_result(lean_socket& socket) noexcept;
// Puts an accepted socket in non-blocking mode; false on failure.
bool set_non_blocking(lean_socket& socket) noexcept;

// What a draining worker must be able to interrupt: the socket or timer of
// one task parked in I/O. Registering costs four pointer writes; the
// registry is a circular list through the links, so a link unlinks itself
// without a pointer back to it.
class io_registry;
class io_link {
public:
    template <class Cancellable>
    io_link(io_registry& registry, Cancellable& target) noexcept;
    ~io_link() {
        prev_->next_ = next_;
        next_->prev_ = prev_;
    }
    io_link(const io_link&) = delete;
    io_link& operator=(const io_link&) = delete;

private:
    friend class io_registry;
    io_link() noexcept : prev_(this), next_(this) {}  // the registry's sentinel
    io_link* prev_;
    io_link* next_;
    void (*cancel_)(void* target) noexcept = nullptr;
    void* target_ = nullptr;
};

// The io_links of one worker, so that a drain can cancel every pending
// socket wait (and asio task's timer) at once.
class io_registry {
public:
    io_registry() = default;
    io_registry(const io_registry&) = delete;
    io_registry& operator=(const io_registry&) = delete;
    // Cancels every registered target's pending operations; the links stay
    // registered (their tasks unregister as they end).
    void cancel_all() noexcept;

private:
    friend class io_link;
    io_link sentinel_;
};

template <class Cancellable>
io_link::io_link(io_registry& registry, Cancellable& target) noexcept
    : prev_(&registry.sentinel_),
      next_(registry.sentinel_.next_),
      cancel_([](void* t) noexcept {
          boost::system::error_code ignored;
          if constexpr (requires(Cancellable & c) { c.cancel(ignored); }) {
              static_cast<Cancellable*>(t)->cancel(ignored);
          } else {
              static_cast<Cancellable*>(t)->cancel();
          }
      }),
      target_(&target) {
    next_->prev_ = this;
    prev_->next_ = this;
}

// The same connection as `socket`, bound to `executor` (a worker's strand in
// the shared layout) for callback and asio-coroutine code.
tcp::socket rebind(lean_socket&& socket, const boost::asio::any_io_executor& executor);

// A listening socket on 127.0.0.1 with a port the kernel chooses, on the
// given executor; `ec` says why it is not open (EMFILE, ...). No exception:
// running out of descriptors is an expected state here, not an exceptional one.
tcp::acceptor open_loopback_listener(const boost::asio::any_io_executor& executor,
                                     boost::system::error_code& ec);

// True for the errors that mean "out of descriptors or socket memory"
// (EMFILE, ENFILE, ENOBUFS, ENOMEM): worth a pause and a retry, not a crash.
bool is_resource_exhaustion(const boost::system::error_code& ec) noexcept;

}  // namespace corostorm::runtime
