// Benchmark: the cost of one timer operation in the lean engine's timing
// wheel, at growing numbers of pending timers. The question it answers: does
// a sleep get dearer when 100 million tasks sleep instead of a million?
//
// For each size N: N periodic timers (period --period-ticks ticks, random
// phase) wait in one wheel; time advances tick by tick, and every timer that
// fires is inserted again at deadline + period, the way a sleeping task goes
// back to sleep. One operation = one fire + one insert, with the cascades
// between wheel levels that it causes. Measured: thread CPU time over
// --rounds periods / operations.
//
// Each node sits inside a block of --stride bytes (default 88: a sleeping
// task's frame, with the node where the promise puts it), so the nodes are
// spread over memory as the frames of N tasks are: at 100M that is 8.8 GB,
// far beyond any cache. Two figures per size separate the wheel's own work
// from that memory effect:
//   - ns per op: everything, as a worker pays it;
//   - wheel steps per op: list operations the wheel performed (links made,
//     including cascades) per operation, a count that does not depend on
//     caches: it stays flat if the structure is O(1);
//   - most moved in a poll and the longest poll (over one more period): the
//     worst single step, what
//     a worker turn pays at once (the wheel bounds the first; with a period
//     beyond the 1024-tick level-0 window, --period-ticks 100000, timers
//     move down a level before they fire).
//
//   build/release/bench/bench_timers [--sizes 1k,1M,10M,100M] [--period-ticks 1000]
//                                    [--rounds 2] [--stride 88]
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/probes.h"
#include "runtime/busy_work.h"
#include "runtime/timer_wheel.h"

namespace {

using corostorm::runtime::timer_node;
using corostorm::runtime::timer_wheel;

constexpr std::uint64_t tick_ns = 1'000'000;  // the runtime's tick: 1 ms

// "1k", "10M", "100M" -> count; 0 on anything else.
std::uint64_t parse_count(std::string_view s) {
    std::uint64_t scale = 1;
    if (!s.empty() && (s.back() == 'k' || s.back() == 'M')) {
        scale = s.back() == 'k' ? 1000 : 1'000'000;
        s.remove_suffix(1);
    }
    if (s.empty()) return 0;
    std::uint64_t n = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return 0;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n * scale;
}

std::string label(std::uint64_t n) {
    if (n % 1'000'000 == 0) return std::to_string(n / 1'000'000) + "M";
    if (n % 1000 == 0) return std::to_string(n / 1000) + "k";
    return std::to_string(n);
}

struct result {
    std::uint64_t ops = 0;
    std::uint64_t links = 0;
    double ns_per_op = 0;
    std::uint64_t most_moved = 0;  // timers moved down a level in one poll, at most
    std::uint64_t longest_ns = 0;  // the longest poll, wall clock
};

result measure(std::uint64_t timers, std::uint64_t period_ticks, std::uint64_t rounds, std::size_t stride) {
    const std::size_t bytes = timers * stride;
    // Anonymous memory, like the frame slabs: untouched until written.
    void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::bad_alloc();
    auto* base = static_cast<std::byte*>(mem);
    const auto node_at = [&](std::uint64_t i) {
        // offset 16: after the two coroutine function pointers, as in a frame.
        return reinterpret_cast<timer_node*>(base + i * stride + 16);
    };

    const std::uint64_t period_ns = period_ticks * tick_ns;
    const std::uint64_t start_ns = tick_ns * 1000;
    timer_wheel wheel(start_ns, tick_ns);
    std::uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (std::uint64_t i = 0; i < timers; ++i) {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        timer_node* n = new (node_at(i)) timer_node{};
        n->deadline_ns = start_ns + 1 + (rng * 0x2545F4914F6CDD1Dull) % period_ns;
        wheel.insert(n);
    }

    result r;
    const std::uint64_t links_before = wheel.links();
    const std::uint64_t end_ns = start_ns + rounds * period_ns;
    const auto step = [&](std::uint64_t now) {
        const std::uint64_t moves = wheel.moves();
        r.ops += wheel.poll(now, SIZE_MAX, [&](timer_node* n) {
            n->deadline_ns += period_ns;
            wheel.insert(n);
        });
        r.most_moved = std::max(r.most_moved, wheel.moves() - moves);
    };
    const std::uint64_t cpu0 = corostorm::runtime::thread_cpu_ns();
    for (std::uint64_t now = start_ns + tick_ns; now <= end_ns; now += tick_ns) step(now);
    const std::uint64_t cpu1 = corostorm::runtime::thread_cpu_ns();
    r.links = wheel.links() - links_before;
    r.ns_per_op = r.ops == 0 ? 0 : static_cast<double>(cpu1 - cpu0) / static_cast<double>(r.ops);
    const std::uint64_t ops = r.ops;
    // One more period, each poll timed on its own (thread CPU time, so that a
    // poll preempted by another process does not count as a long one): kept
    // apart because two clock reads a tick would weigh on ns per op where a
    // tick fires few timers.
    for (std::uint64_t now = end_ns + tick_ns; now <= end_ns + period_ns; now += tick_ns) {
        const std::uint64_t t0 = corostorm::runtime::thread_cpu_ns();
        step(now);
        r.longest_ns = std::max(r.longest_ns, corostorm::runtime::thread_cpu_ns() - t0);
    }
    r.ops = ops;
    munmap(mem, bytes);
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::uint64_t> sizes{1000, 1'000'000, 10'000'000, 100'000'000};
    std::uint64_t period_ticks = 1000;
    std::uint64_t rounds = 2;
    std::size_t stride = 88;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--sizes" && has_value) {
            sizes.clear();
            std::string list = argv[++i];
            for (std::size_t at = 0; at <= list.size();) {
                const std::size_t comma = std::min(list.find(',', at), list.size());
                const std::uint64_t n = parse_count(std::string_view(list).substr(at, comma - at));
                if (n == 0 || n > 1'000'000'000) {
                    std::fprintf(stderr,
                                 "--sizes: each size is a count from 1 to 1000M (1k, 10M), got '%s'\n",
                                 list.c_str());
                    return 2;
                }
                sizes.push_back(n);
                at = comma + 1;
            }
        } else if (arg == "--period-ticks" && has_value) {
            period_ticks = parse_count(argv[++i]);
            if (period_ticks < 1 || period_ticks > 1'000'000) {
                std::fprintf(stderr, "--period-ticks: 1 .. 1000000, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (arg == "--rounds" && has_value) {
            rounds = parse_count(argv[++i]);
            if (rounds < 1 || rounds > 100) {
                std::fprintf(stderr, "--rounds: 1 .. 100, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (arg == "--stride" && has_value) {
            stride = parse_count(argv[++i]);
            if (stride < 32 || stride > 4096 || stride % 8 != 0) {
                std::fprintf(stderr, "--stride: a multiple of 8 from 32 to 4096 bytes, got '%s'\n", argv[i]);
                return 2;
            }
        } else {
            std::fprintf(stderr,
                         "usage: bench_timers [--sizes 1k,1M,10M,100M] [--period-ticks 1000] [--rounds 2] "
                         "[--stride 88]\n");
            return arg == "--help" || arg == "-h" ? 0 : 2;
        }
    }

    std::string command = argv[0];
    for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
    std::printf("# timing wheel: cost of one timer operation (fire + insert again) by pending timers\n");
    std::printf("machine: %s, %u CPUs available, %.1f GiB, kernel %s\n",
                corostorm::metrics::cpu_model().c_str(), corostorm::metrics::available_cpus(),
                static_cast<double>(corostorm::metrics::total_memory_bytes()) / (1024.0 * 1024 * 1024),
                corostorm::metrics::kernel_release().c_str());
    std::printf("command: %s\n", command.c_str());
    std::printf("period %llu ticks of 1 ms, %llu rounds, one node per %zu-byte block (a frame)\n\n",
                static_cast<unsigned long long>(period_ticks), static_cast<unsigned long long>(rounds),
                stride);
    std::printf(
        "| pending timers | operations | ns per op | wheel steps per op | most moved in a poll | longest "
        "poll |\n");
    std::printf(
        "| -------------: | ---------: | --------: | -----------------: | -------------------: | "
        "-----------: |\n");
    std::fflush(stdout);
    for (const std::uint64_t n : sizes) {
        const result r = measure(n, period_ticks, rounds, stride);
        std::printf("| %14s | %10s | %9.1f | %18.3f | %20llu | %9.2f ms |\n", label(n).c_str(),
                    label(r.ops).c_str(), r.ns_per_op,
                    r.ops == 0 ? 0.0 : static_cast<double>(r.links) / static_cast<double>(r.ops),
                    static_cast<unsigned long long>(r.most_moved), static_cast<double>(r.longest_ns) / 1e6);
        std::fflush(stdout);
    }
    return 0;
}
