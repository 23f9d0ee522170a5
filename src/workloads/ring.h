// The `ring` workload: rings of `ring_size` tasks passing one token around
// through single-slot channels (Go's channel ring). Every hand-off wakes the
// next task through the ready queue, so its latency is recorded as
// source=ready, and every hop counts as a resume.
//
// A ring is one unit of the target (ring_size tasks). Its leader spawns the
// other members, starts the token and checks it on every lap: the token
// counts hops, so after lap k it must read k * ring_size; anything else
// (a lost or doubled token) ends the ring with an error. A ring ends as a
// whole: the leader, told to retire, sends a stop value around instead of
// the token and leaves; each member forwards it and leaves, the last one
// without writing to the leader's (gone) channel. Nothing is ever dropped.
#pragma once

#include <cstdint>

#include "workloads/workload.h"

namespace corostorm::workloads {

struct ring_options {
    std::uint64_t ring_size = 100;                // >= 2
    void retune(const ring_options&) noexcept {}  // nothing is live
};

// The ring workload for workloads/workload.h. Its parameter shapes the unit,
// so a reload does not change it (a restart does).
//
// On the asio engine the channels are asio::experimental::channel with room
// for one token between neighbours, owned by a shared ring state. The token
// carries the time it was sent, so the receiver records the hand-off
// latency. A ring ends by a stop value, never by close(), which in Asio 1.26
// may drop a buffered message.
struct rings {
    using options = ring_options;
    static std::uint64_t tasks_per_unit(const options& o) noexcept { return o.ring_size; }
    static void spawn_lean(runtime::task_env env, runtime::worker& w, const options& o);
    static void spawn_asio(runtime::task_env env, runtime::worker& w, const options& o);
};

}  // namespace corostorm::workloads
