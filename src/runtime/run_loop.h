// Running an io_context on a thread of its own without dying of a failed allocation.
//
// With memory.limit: none (or a limit the memory guard cannot see) any allocation may
// fail, also Asio's for a handler's operation, and a std::bad_alloc that escapes run()
// on a thread ends the process through std::terminate. run_surviving_out_of_memory runs
// the context again instead (Asio allows run() to be called again after a handler threw):
// the handler that threw is lost and everything else goes on. What that handler would
// have re-armed (a worker's control tick, say) shows as a stalled worker on /healthz,
// which is the honest answer for a process out of memory.
// Cost: nothing while no exception is thrown.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <new>
#include <thread>

namespace corostorm::runtime {

// Returns when `ctx` stops or runs out of work.
inline void run_surviving_out_of_memory(boost::asio::io_context& ctx) {
    for (;;) {
        try {
            ctx.run();
            return;
        } catch (const std::bad_alloc&) {
            // Memory may come back once something is freed; do not spin on it.
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
}

}  // namespace corostorm::runtime
