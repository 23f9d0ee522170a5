#include "workloads/ring.h"

#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <stdexcept>
#include <vector>

#include "runtime/asio_task.h"
#include "runtime/channel.h"
#include "runtime/clock.h"
#include "runtime/worker.h"

namespace corostorm::workloads {

namespace {

constexpr std::uint64_t stop_value = UINT64_MAX;

// `self_out` receives the address of this member's channel before its first
// suspension, so the spawner can point the previous member at it.
runtime::task ring_member([[maybe_unused]] runtime::task_env env, runtime::channel** self_out,
                          runtime::channel* next, bool last) {
    runtime::channel self;
    *self_out = &self;
    for (;;) {
        const std::uint64_t token = co_await self.receive();
        if (token == stop_value) {
            if (!last) next->send(stop_value);
            co_return runtime::task_outcome::cancelled;
        }
        next->send(token + 1);
    }
}

runtime::task ring_leader(runtime::task_env env, const ring_options& options) {
    runtime::channel self;
    runtime::channel* next = &self;
    // Spawned back to front, so each member can be given its successor.
    for (std::uint64_t k = options.ring_size - 1; k >= 1; --k) {
        runtime::channel* created = nullptr;
        ring_member(env.child(), &created, next, k == options.ring_size - 1);
        next = created;
    }
    next->send(1);
    for (std::uint64_t lap = 1;; ++lap) {
        const std::uint64_t token = co_await self.receive();
        if (token != lap * options.ring_size) throw std::logic_error("ring token lost or duplicated");
        if (runtime::this_worker().should_retire(env.workload)) {
            next->send(stop_value);
            co_return runtime::task_outcome::cancelled;
        }
        next->send(token + 1);
    }
}

namespace asio = boost::asio;

struct ring_token {
    std::uint64_t hops;
    std::uint64_t sent_ns;  // 0 when this hand-off is not sampled
};
using token_channel = asio::experimental::channel<void(boost::system::error_code, ring_token)>;

struct asio_ring {
    std::vector<std::unique_ptr<token_channel>> channels;  // channels[i] feeds member i
};

asio::awaitable<void> pass(runtime::worker& w, token_channel& to, std::uint64_t hops) {
    const std::uint64_t sent = w.sample_latency() ? runtime::now_ns() : 0;
    co_await to.async_send(boost::system::error_code{}, ring_token{hops, sent}, asio::use_awaitable);
}

asio::awaitable<ring_token> take(runtime::task_env env, runtime::worker& w, token_channel& from) {
    const ring_token token = co_await from.async_receive(asio::use_awaitable);
    w.count_resume(env.workload);
    if (token.sent_ns != 0) {
        w.record_latency(env.workload, metrics::latency_source::ready, runtime::now_ns() - token.sent_ns);
    }
    co_return token;
}

asio::awaitable<runtime::task_outcome> asio_ring_member(runtime::task_env env, runtime::worker& w,
                                                        std::shared_ptr<asio_ring> ring, std::size_t index) {
    token_channel& in = *ring->channels[index];
    token_channel& out = *ring->channels[(index + 1) % ring->channels.size()];
    for (;;) {
        const ring_token token = co_await take(env, w, in);
        // The stop value goes all the way round; the leader's channel has
        // room for it even after the leader left.
        co_await pass(w, out, token.hops == stop_value ? stop_value : token.hops + 1);
        if (token.hops == stop_value) co_return runtime::task_outcome::cancelled;
    }
}

asio::awaitable<runtime::task_outcome> asio_ring_leader(runtime::task_env env, runtime::worker& w,
                                                        std::uint64_t ring_size) {
    auto executor = co_await asio::this_coro::executor;
    auto ring = std::make_shared<asio_ring>();
    for (std::uint64_t i = 0; i < ring_size; ++i) {
        ring->channels.push_back(std::make_unique<token_channel>(executor, 1));
    }
    for (std::size_t i = 1; i < ring_size; ++i) {
        runtime::asio_spawn(w, env.child(), asio_ring_member(env.child(), w, ring, i));
    }
    co_await pass(w, *ring->channels[1], 1);
    for (std::uint64_t lap = 1;; ++lap) {
        const ring_token token = co_await take(env, w, *ring->channels[0]);
        if (token.hops != lap * ring_size) throw std::logic_error("ring token lost or duplicated");
        if (w.should_retire(env.workload)) {
            co_await pass(w, *ring->channels[1], stop_value);
            co_return runtime::task_outcome::cancelled;
        }
        co_await pass(w, *ring->channels[1], token.hops + 1);
    }
}

}  // namespace

void rings::spawn_asio(runtime::task_env env, runtime::worker& w, const options& o) {
    runtime::asio_spawn(w, env, asio_ring_leader(env, w, o.ring_size));
}

void rings::spawn_lean(runtime::task_env env, runtime::worker&, const options& o) { ring_leader(env, o); }

}  // namespace corostorm::workloads
