// A workload parameter that a config reload may change while tasks read it.
//
// Design note. Tasks read their parameters through a pointer or reference
// to the options their workload owns, at every wake-up or yield. A reload
// stores new values there; each task sees them at its next read. A relaxed
// atomic load is the same plain `mov` as a non-atomic one on x86-64 and
// AArch64, so the hot path pays nothing, and the store on the control
// thread is not a data race. Values are independent: a task may see a new
// period with an old amount of work for one round, which is harmless.
#pragma once

#include <atomic>

namespace corostorm::workloads {

template <class T>
class tunable {
public:
    tunable(T value = T{}) noexcept : value_(value) {}  // NOLINT: implicit, like the T it stands for
    tunable(const tunable& other) noexcept : value_(other.get()) {}
    tunable& operator=(const tunable& other) noexcept {
        set(other.get());
        return *this;
    }
    tunable& operator=(T value) noexcept {
        set(value);
        return *this;
    }

    T get() const noexcept { return value_.load(std::memory_order_relaxed); }
    void set(T value) noexcept { value_.store(value, std::memory_order_relaxed); }
    operator T() const noexcept { return get(); }  // NOLINT: reads like the plain value it replaced

private:
    std::atomic<T> value_;
};

}  // namespace corostorm::workloads
