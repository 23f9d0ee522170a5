// Benchmark: how late a thread wakes from epoll_wait on a timerfd armed for
// a fixed schedule, with nothing else of corostorm in the process. The
// question it answers: what timer lateness tail does the machine itself
// impose, under any runtime's timers? A worker wakes exactly this way (Asio's
// reactor, a timerfd, epoll_wait), so a scheduler's p99 cannot be below it.
//
// Each thread arms an absolute deadline every --period, waits, records how
// late it woke, and busies itself for --work (a worker firing its due
// timers). Deadlines follow the intended schedule, as the sleepers' do, so a
// stall makes every wake-up it covers late (no coordinated omission).
//
//   build/release/bench/bench_wake_floor [--period-us 250] [--seconds 10] [--threads 1]
//                                        [--work-us 50]
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "metrics/probes.h"
#include "runtime/busy_work.h"
#include "runtime/clock.h"

namespace {

using corostorm::runtime::now_ns;

std::vector<std::uint64_t> wake_up(std::uint64_t period_ns, std::uint64_t seconds, std::uint64_t work_ns) {
    std::vector<std::uint64_t> late;
    const int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    const int poller = epoll_create1(EPOLL_CLOEXEC);
    if (timer < 0 || poller < 0) return late;
    epoll_event interest{};
    interest.events = EPOLLIN;
    epoll_ctl(poller, EPOLL_CTL_ADD, timer, &interest);
    const std::uint64_t end = now_ns() + seconds * 1'000'000'000ull;
    for (std::uint64_t due = now_ns() + period_ns; due < end; due += period_ns) {
        itimerspec when{};
        when.it_value.tv_sec = static_cast<time_t>(due / 1'000'000'000ull);
        when.it_value.tv_nsec = static_cast<long>(due % 1'000'000'000ull);
        timerfd_settime(timer, TFD_TIMER_ABSTIME, &when, nullptr);
        epoll_event ready{};
        while (epoll_wait(poller, &ready, 1, -1) != 1) {
        }
        std::uint64_t expirations = 0;
        if (read(timer, &expirations, sizeof expirations) < 0) break;
        const std::uint64_t now = now_ns();
        late.push_back(now > due ? now - due : 0);
        corostorm::runtime::busy_work(work_ns);
    }
    close(poller);
    close(timer);
    return late;
}

std::uint64_t number(const char* text, std::uint64_t low, std::uint64_t high, const char* flag) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text, &end, 10);
    if (end == text || *end != '\0' || v < low || v > high) {
        std::fprintf(stderr, "%s: a number from %llu to %llu, got '%s'\n", flag,
                     static_cast<unsigned long long>(low), static_cast<unsigned long long>(high), text);
        std::exit(2);
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t period_us = 250;
    std::uint64_t seconds = 10;
    std::uint64_t threads = 1;
    std::uint64_t work_us = 50;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--period-us" && has_value) {
            period_us = number(argv[++i], 10, 1'000'000, "--period-us");
        } else if (arg == "--seconds" && has_value) {
            seconds = number(argv[++i], 1, 3600, "--seconds");
        } else if (arg == "--threads" && has_value) {
            threads = number(argv[++i], 1, 64, "--threads");
        } else if (arg == "--work-us" && has_value) {
            work_us = number(argv[++i], 0, 1'000'000, "--work-us");
        } else {
            std::fprintf(
                stderr,
                "usage: bench_wake_floor [--period-us 250] [--seconds 10] [--threads 1] [--work-us 50]\n");
            return arg == "--help" || arg == "-h" ? 0 : 2;
        }
    }
    if (work_us >= period_us) {
        std::fprintf(stderr, "--work-us must be below --period-us\n");
        return 2;
    }

    std::string command = argv[0];
    for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
    std::printf(
        "# wake-up floor: lateness of timerfd + epoll_wait wake-ups, nothing else running in the process\n");
    std::printf("machine: %s, %u CPUs available, kernel %s\n", corostorm::metrics::cpu_model().c_str(),
                corostorm::metrics::available_cpus(), corostorm::metrics::kernel_release().c_str());
    std::printf("command: %s\n\n", command.c_str());

    std::vector<std::vector<std::uint64_t>> late(threads);
    std::vector<std::thread> running;
    for (std::uint64_t t = 0; t < threads; ++t) {
        running.emplace_back([&, t] { late[t] = wake_up(period_us * 1000, seconds, work_us * 1000); });
    }
    for (auto& t : running) t.join();
    std::vector<std::uint64_t> all;
    for (const auto& l : late) all.insert(all.end(), l.begin(), l.end());
    if (all.empty()) {
        std::fprintf(stderr, "no wake-up recorded (timerfd or epoll unavailable)\n");
        return 1;
    }
    std::sort(all.begin(), all.end());
    const auto ms = [&](double q) {
        const auto i =
            std::min(all.size() - 1, static_cast<std::size_t>(q * static_cast<double>(all.size())));
        return static_cast<double>(all[i]) / 1e6;
    };
    std::printf("| period | threads | work per wake-up | wake-ups | p50 | p99 | p99.9 | max |\n");
    std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    std::printf("| %llu us | %llu | %llu us | %zu | %.3f ms | %.3f ms | %.3f ms | %.3f ms |\n",
                static_cast<unsigned long long>(period_us), static_cast<unsigned long long>(threads),
                static_cast<unsigned long long>(work_us), all.size(), ms(0.5), ms(0.99), ms(0.999),
                static_cast<double>(all.back()) / 1e6);
    return 0;
}
