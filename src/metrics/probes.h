// Memory, CPU and process probes: what the kernel and the allocator say about
// this process. Used by the exporter at scrape time and by the daemon at start.
//
// Cost: each call reads one or two small files under /proc or /sys (a few
// microseconds); none of them is O(tasks). open_fds() is O(open descriptors).
// Thread-safety: every function is safe to call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace corostorm::metrics {

// Resident set size in bytes (/proc/self/statm, resident pages * page size).
std::uint64_t resident_bytes();
// Virtual memory size in bytes.
std::uint64_t virtual_bytes();
// Bytes the C allocator has handed out and not taken back (glibc mallinfo2:
// uordblks + hblkhd), i.e. heap in use including mmapped blocks. In ASan and TSan
// builds malloc is the sanitizer's, so the sanitizer's own count is reported.
std::uint64_t heap_in_use_bytes();

// A value that cannot be read (no /proc) is left 0.
struct process_stats {
    double cpu_seconds = 0;  // user + system
    std::uint64_t resident_bytes = 0;
    std::uint64_t virtual_bytes = 0;
    std::uint64_t open_fds = 0;
    std::uint64_t max_fds = 0;      // soft RLIMIT_NOFILE
    double start_time_seconds = 0;  // since the Unix epoch
    std::uint64_t threads = 0;
};
process_stats read_process_stats();

// CPUs this process may use: the affinity mask, further limited by a cgroup
// CPU quota (v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us), rounded up.
// Never less than 1.
unsigned available_cpus();

// The memory limit of the process's own cgroup (v2 memory.max, v1
// memory.limit_in_bytes), or nullopt when there is none ("max", or a v1
// value so large it means unlimited). `proc_root`/`cgroup_root` exist for tests.
std::optional<std::uint64_t> cgroup_memory_limit(const std::string& proc_root = "/proc",
                                                 const std::string& cgroup_root = "/sys/fs/cgroup");
// What the kernel charges the same cgroup, as the OOM killer and Kubernetes
// see it: usage (v2 memory.current, v1 memory.usage_in_bytes) minus the
// inactive file cache it can drop at once (memory.stat inactive_file, v1
// total_inactive_file). nullopt when there is no memory cgroup to read.
std::optional<std::uint64_t> cgroup_memory_working_set(const std::string& proc_root = "/proc",
                                                       const std::string& cgroup_root = "/sys/fs/cgroup");
// The machine's memory in use by everyone: MemTotal - MemAvailable (/proc/meminfo).
std::optional<std::uint64_t> machine_memory_in_use(const std::string& meminfo = "/proc/meminfo");
// Same idea for CPU quota: cores allowed (quota / period), nullopt if unlimited.
std::optional<double> cgroup_cpu_limit(const std::string& proc_root = "/proc",
                                       const std::string& cgroup_root = "/sys/fs/cgroup");

// Machine facts for logs and reports. cpu_model() is empty where /proc/cpuinfo
// has no "model name" (most ARM kernels).
std::string cpu_model();
std::uint64_t total_memory_bytes();
std::string kernel_release();
// The compiler this binary was built with, e.g. "g++ 12.2.0".
std::string compiler();

}  // namespace corostorm::metrics
