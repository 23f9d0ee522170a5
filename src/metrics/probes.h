// Memory, CPU and process probes: what the kernel and the allocator say about
// this process. Used by the exporter at scrape time and by the daemon at start.
//
// Cost: each call reads a few small files under /proc or /sys (a few
// microseconds); none of them is O(tasks). open_fds() is O(open descriptors).
// Thread-safety: every function is safe to call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace corostorm::metrics {

// Resident set size in bytes (/proc/self/statm, resident pages * page size).
std::uint64_t resident_bytes();
// Virtual memory size in bytes.
std::uint64_t virtual_bytes();
// RLIMIT_AS's soft limit (ulimit -v) in bytes; nullopt when unlimited.
std::optional<std::uint64_t> address_space_limit();
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

// Where read_kernel_memory() read its figure.
enum class kernel_memory_source { cgroup_v2, cgroup_v1, machine };
std::string_view to_string(kernel_memory_source s);  // "cgroup_v2", "cgroup_v1", "machine"
struct kernel_memory {
    std::uint64_t bytes = 0;
    kernel_memory_source source = kernel_memory_source::machine;
};
// The kernel's own memory that the process's sockets and other kernel objects are
// charged to: the `method="kernel"` figure, divided by the tasks by the caller.
//
// - The process's memory cgroup, when it is not the root one:
//   v2: memory.stat `kernel` + `sock`; kernels before `kernel` existed (< 5.18):
//       `slab` + `kernel_stack` + `pagetables` (+ `percpu` where listed) + `sock`.
//   v1: memory.kmem.usage_in_bytes + memory.kmem.tcp.usage_in_bytes (the tcp one
//       stays 0 unless TCP accounting was switched on for the cgroup by writing its
//       memory.kmem.tcp.limit_in_bytes; an absent tcp file counts 0).
//   "Root" is decided on the memory line of /proc/self/cgroup, as locate_cgroup finds
//   it: a path of "/" is the root, with one exception: a v2 "/" whose directory has
//   memory.current (the real root has none) is the root of a cgroup namespace, i.e.
//   a container's own cgroup, and is read. A path that is not "/" but is missing
//   under the mount (a container without a cgroup namespace) is read at the mount
//   root, which is then the process's own cgroup, as cgroup_memory_limit does.
//   The root is skipped: what is charged or summed there is everyone's, not that of
//   a group the process was put in.
// - Otherwise, and when the cgroup's files are missing, malformed, or show no kernel
//   memory at all (0 means kmem accounting is off, cgroup.memory=nokmem: a cgroup
//   with a running process has at least its open files and page tables charged), the
//   machine's: /proc/meminfo `Slab` + socket buffers from /proc/net/sockstat:
//   (`TCP: ... mem P` + `UDP: ... mem P`) pages x page size + `FRAG: ... memory B`.
//   Slab is required; a sockstat that cannot be read, or a line of it that does not
//   parse, counts 0.
//
// What the figure misses or over-counts:
// - It is not this process's alone: other processes in the same cgroup, or for the
//   machine source every process on the machine, move it; only differences taken
//   while the others are quiet can be divided by this process's tasks.
// - v1 without TCP accounting misses socket buffers. They hold only data not yet
//   read (or not yet acknowledged), so they are mostly empty for sockets whose peer
//   reads promptly; the socket objects themselves are in kmem either way.
// - Machine source: Slab over-counts with reclaimable dentry and inode caches and
//   misses kernel stacks, page tables and vmalloc. sockstat's TCP and UDP `mem` are
//   machine-wide in the kernel (only FRAG is per network namespace), and since 6.0
//   each CPU holds back up to 1 MiB per protocol before publishing it, so small
//   changes in socket memory may not show.
// - Page cache (file data, tmpfs) is not kernel memory here, in either source.
//
// Lines without their final newline are treated as cut off and ignored; non-regular
// files (a FIFO in place of memory.stat) are refused rather than waited on. nullopt
// when nothing could be read. Costs two or three small file reads (five when the
// cgroup's files fail and the machine's are read instead).
std::optional<kernel_memory> read_kernel_memory(const std::string& proc_root = "/proc",
                                                const std::string& cgroup_root = "/sys/fs/cgroup");

// Machine facts for logs and reports. cpu_model() is empty where /proc/cpuinfo
// has no "model name" (most ARM kernels).
std::string cpu_model();
std::uint64_t total_memory_bytes();
std::string kernel_release();
// The compiler this binary was built with, e.g. "g++ 12.2.0".
std::string compiler();

}  // namespace corostorm::metrics
