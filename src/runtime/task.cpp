#include "runtime/task.h"

#include "runtime/worker.h"

namespace corostorm::runtime::detail {

namespace {
// The size of the frame most recently allocated on this thread. The promise
// constructor runs right after its frame's operator new, on the same thread,
// with only trivial parameter copies in between, so this hand-over is exact.
thread_local std::uint32_t tls_last_frame_size = 0;
}  // namespace

void* allocate_frame(std::size_t n) {
    void* p = this_worker().allocator().allocate(n);
    tls_last_frame_size = static_cast<std::uint32_t>(n);
    return p;
}

void deallocate_frame(void* p, std::size_t n) noexcept { this_worker().allocator().deallocate(p, n); }

std::uint32_t take_last_frame_size() noexcept { return tls_last_frame_size; }

void task_started(task_env env, std::uint32_t frame_bytes) noexcept {
    this_worker().scope().on_started(env, frame_bytes);
}

void task_finished(task_env env, std::uint32_t frame_bytes, task_outcome outcome) noexcept {
    this_worker().scope().on_finished(env, frame_bytes, outcome);
}

}  // namespace corostorm::runtime::detail
