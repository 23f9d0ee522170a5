#include "runtime/task.h"

#include "runtime/worker.h"

namespace corostorm::runtime::detail {

namespace {
// The size of the frame most recently allocated on this thread. The promise
// constructor runs right after its frame's operator new, on the same thread,
// with only trivial parameter copies in between, so this hand-over is exact.
thread_local std::uint32_t tls_last_frame_size = 0;
// Likewise from the promise constructor to initial_suspend, which run back to
// back for the same frame: whether the task starts at once.
thread_local bool tls_starts_at_once = true;
}  // namespace

void* allocate_frame(std::size_t n) {
    void* p = this_worker().allocator().allocate(n);
    tls_last_frame_size = static_cast<std::uint32_t>(n);
    return p;
}

void deallocate_frame(void* p, std::size_t n) noexcept { this_worker().allocator().deallocate(p, n); }

std::uint32_t take_last_frame_size() noexcept { return tls_last_frame_size; }

void task_started(task_env env, std::uint32_t frame_bytes) noexcept {
    worker& w = this_worker();
    w.scope().on_started(env, frame_bytes);
    tls_starts_at_once = w.start_now(env.may_queue);
}

bool starts_at_once() noexcept { return tls_starts_at_once; }

void start_later(timer_node* node) noexcept { this_worker().make_ready(*node); }

void task_finished(task_env env, std::uint32_t frame_bytes, task_outcome outcome) noexcept {
    this_worker().scope().on_finished(env, frame_bytes, outcome);
}

}  // namespace corostorm::runtime::detail
