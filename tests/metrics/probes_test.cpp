#include "metrics/probes.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <latch>
#include <memory>
#include <optional>
#include <semaphore>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace corostorm::metrics {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t mib = 1024 * 1024;

// A throwaway directory standing in for / : the tests write proc/self/cgroup and
// sys/fs/cgroup/... below it and point the cgroup probes there.
class fake_system {
public:
    fake_system() {
        std::string pattern = (fs::temp_directory_path() / "corostorm-probes-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
        }
        root_ = pattern;
    }
    ~fake_system() {
        std::error_code ignored;
        fs::remove_all(root_, ignored);
    }
    fake_system(const fake_system&) = delete;
    fake_system& operator=(const fake_system&) = delete;

    // Writes `content` to `relative` (below the fake root), creating directories.
    void write(const std::string& relative, std::string_view content) const {
        const fs::path path = root_ / relative;
        fs::create_directories(path.parent_path());
        std::ofstream out(path, std::ios::binary);
        out << content;
    }
    void make_directory(const std::string& relative) const { fs::create_directories(root_ / relative); }
    // A FIFO nobody writes to, where a probe expects a file: opening it for reading
    // blocks until a writer comes.
    fs::path make_fifo(const std::string& relative) const {
        const fs::path path = root_ / relative;
        fs::create_directories(path.parent_path());
        if (::mkfifo(path.c_str(), 0600) != 0) {
            throw std::system_error(errno, std::generic_category(), "mkfifo " + path.string());
        }
        return path;
    }

    std::optional<std::uint64_t> memory_limit() const {
        return cgroup_memory_limit(proc_root(), cgroup_root());
    }
    std::optional<double> cpu_limit() const { return cgroup_cpu_limit(proc_root(), cgroup_root()); }
    std::optional<std::uint64_t> working_set() const {
        return cgroup_memory_working_set(proc_root(), cgroup_root());
    }
    std::optional<std::uint64_t> machine_in_use(const std::string& relative) const {
        return machine_memory_in_use((root_ / relative).string());
    }
    std::optional<kernel_memory> kernel() const { return read_kernel_memory(proc_root(), cgroup_root()); }

private:
    std::string proc_root() const { return (root_ / "proc").string(); }
    std::string cgroup_root() const { return (root_ / "sys/fs/cgroup").string(); }

    fs::path root_;
};

// ---- memory in use -----------------------------------------------------------------

TEST(MemoryInUse, cgroup_v2_working_set_is_current_less_inactive_file) {
    fake_system sys;
    sys.write("proc/self/cgroup", "0::/kubepods/pod1/ctr\n");
    sys.write("sys/fs/cgroup/kubepods/pod1/ctr/memory.current", "500000000\n");
    sys.write("sys/fs/cgroup/kubepods/pod1/ctr/memory.stat",
              "anon 300000000\nfile 200000000\nactive_file 50000000\ninactive_file 150000000\n");
    EXPECT_EQ(sys.working_set(), std::optional<std::uint64_t>(350000000));
}

TEST(MemoryInUse, cgroup_v1_working_set_uses_the_hierarchical_inactive_file) {
    fake_system sys;
    sys.write("proc/self/cgroup", "4:memory:/guarded\n0::/\n");
    sys.write("sys/fs/cgroup/memory/guarded/memory.usage_in_bytes", "400000000\n");
    // The local count (inactive_file) is not the one that counts for the subtree.
    sys.write("sys/fs/cgroup/memory/guarded/memory.stat",
              "cache 100\ninactive_file 7\ntotal_rss 300000000\ntotal_inactive_file 100000000\n");
    EXPECT_EQ(sys.working_set(), std::optional<std::uint64_t>(300000000));
}

TEST(MemoryInUse, cgroup_without_stat_counts_the_whole_usage_and_no_cgroup_is_nullopt) {
    fake_system sys;
    sys.write("proc/self/cgroup", "0::/a\n");
    sys.write("sys/fs/cgroup/a/memory.current", "123456\n");
    EXPECT_EQ(sys.working_set(), std::optional<std::uint64_t>(123456));

    fake_system empty;
    empty.write("proc/self/cgroup", "");
    EXPECT_EQ(empty.working_set(), std::nullopt);
}

TEST(MemoryInUse, machine_is_total_less_available) {
    fake_system sys;
    sys.write("meminfo",
              "MemTotal:       24684096 kB\nMemFree:         1000000 kB\n"
              "MemAvailable:   20684096 kB\n");
    EXPECT_EQ(sys.machine_in_use("meminfo"), std::optional<std::uint64_t>(4000000ULL * 1024));
    sys.write("old-kernel", "MemTotal:       24684096 kB\nMemFree:         1000000 kB\n");
    EXPECT_EQ(sys.machine_in_use("old-kernel"), std::nullopt);
    EXPECT_EQ(sys.machine_in_use("missing"), std::nullopt);
}

TEST(MemoryInUse, this_machine_reports_something_plausible) {
    const auto in_use = machine_memory_in_use();
    ASSERT_TRUE(in_use.has_value());
    EXPECT_GT(*in_use, 0U);
    EXPECT_LT(*in_use, total_memory_bytes());
}

// ---- kernel memory -------------------------------------------------------------------

std::uint64_t page_bytes() { return static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)); }

// A machine whose /proc says: Slab 160408 kB, TCP 30 pages, UDP 5 pages, FRAG 1024 bytes.
constexpr std::string_view meminfo_content =
    "MemTotal:       24684096 kB\nMemFree:         1000000 kB\nSlab:             160408 kB\n"
    "SReclaimable:     133760 kB\nSUnreclaim:        26648 kB\nKernelStack:        1468 kB\n";
constexpr std::string_view sockstat_content =
    "sockets: used 12\nTCP: inuse 1 orphan 0 tw 0 alloc 1 mem 30\nUDP: inuse 2 mem 5\n"
    "UDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 1 memory 1024\n";
const std::uint64_t slab_bytes = 160408ULL * 1024;
const std::uint64_t machine_bytes = slab_bytes + (30 + 5) * page_bytes() + 1024;

void write_machine(const fake_system& sys) {
    sys.write("proc/meminfo", meminfo_content);
    sys.write("proc/net/sockstat", sockstat_content);
}

std::optional<std::uint64_t> bytes_of(const std::optional<kernel_memory>& memory) {
    return memory ? std::optional<std::uint64_t>(memory->bytes) : std::nullopt;
}

bool from(const std::optional<kernel_memory>& memory, kernel_memory_source source) {
    return memory && memory->source == source;
}

TEST(KernelMemory, source_names) {
    EXPECT_EQ(to_string(kernel_memory_source::cgroup_v2), "cgroup_v2");
    EXPECT_EQ(to_string(kernel_memory_source::cgroup_v1), "cgroup_v1");
    EXPECT_EQ(to_string(kernel_memory_source::machine), "machine");
}

TEST(KernelMemory, cgroup_v2_is_kernel_plus_sock) {
    fake_system sys;
    write_machine(sys);
    sys.write("proc/self/cgroup", "0::/kubepods/pod1/ctr\n");
    sys.write("sys/fs/cgroup/kubepods/pod1/ctr/memory.current", "500000000\n");
    // `kernel` already holds slab, kernel_stack, pagetables and percpu: not added again.
    sys.write("sys/fs/cgroup/kubepods/pod1/ctr/memory.stat",
              "anon 300000000\nfile 200000000\nkernel 5000000\nkernel_stack 1000000\n"
              "pagetables 500000\npercpu 100000\nsock 40960\nshmem 0\nslab 3000000\n");
    const auto memory = sys.kernel();

    EXPECT_TRUE(from(memory, kernel_memory_source::cgroup_v2));
    EXPECT_EQ(bytes_of(memory), std::optional<std::uint64_t>(5000000 + 40960));
}

TEST(KernelMemory, cgroup_v2_before_the_kernel_key_sums_its_kinds) {
    fake_system sys;
    write_machine(sys);
    sys.write("proc/self/cgroup", "0::/a\n");
    sys.write("sys/fs/cgroup/a/memory.stat",
              "anon 1000\nfile 2000\nkernel_stack 16384\nslab 300000\nsock 8192\n"
              "pagetables 40960\nslab_reclaimable 200000\nslab_unreclaimable 100000\n");
    EXPECT_TRUE(from(sys.kernel(), kernel_memory_source::cgroup_v2));
    EXPECT_EQ(bytes_of(sys.kernel()), std::optional<std::uint64_t>(16384 + 300000 + 8192 + 40960));

    // 5.7 to 5.17 also list percpu, which `kernel` later includes.
    sys.write("sys/fs/cgroup/a/memory.stat",
              "kernel_stack 16384\npagetables 40960\npercpu 4096\nsock 8192\nslab 300000\n");
    EXPECT_EQ(bytes_of(sys.kernel()), std::optional<std::uint64_t>(16384 + 40960 + 4096 + 8192 + 300000));
}

TEST(KernelMemory, cgroup_v1_is_kmem_plus_tcp) {
    fake_system sys;
    write_machine(sys);
    // Hybrid: the memory controller is on a v1 line, so the unified hierarchy is not read.
    sys.write("proc/self/cgroup", "9:name=systemd:/\n4:memory:/process_api/8ec7\n1:cpu:/\n0::/\n");
    sys.write("sys/fs/cgroup/memory/process_api/8ec7/memory.kmem.usage_in_bytes", "991232\n");
    sys.write("sys/fs/cgroup/memory/process_api/8ec7/memory.kmem.tcp.usage_in_bytes", "65536\n");
    sys.write("sys/fs/cgroup/memory.stat", "kernel 1\nsock 1\n");
    const auto memory = sys.kernel();

    EXPECT_TRUE(from(memory, kernel_memory_source::cgroup_v1));
    EXPECT_EQ(bytes_of(memory), std::optional<std::uint64_t>(991232 + 65536));

    // With TCP accounting off the tcp file reads 0, and kmem is all.
    sys.write("sys/fs/cgroup/memory/process_api/8ec7/memory.kmem.tcp.usage_in_bytes", "0\n");
    EXPECT_EQ(bytes_of(sys.kernel()), std::optional<std::uint64_t>(991232));
}

TEST(KernelMemory, cgroup_v1_without_the_tcp_file_is_kmem_alone) {
    fake_system sys;
    sys.write("proc/self/cgroup", "4:memory:/a\n");
    sys.write("sys/fs/cgroup/memory/a/memory.kmem.usage_in_bytes", "991232\n");
    const auto memory = sys.kernel();

    EXPECT_TRUE(from(memory, kernel_memory_source::cgroup_v1));
    EXPECT_EQ(bytes_of(memory), std::optional<std::uint64_t>(991232));
}

TEST(KernelMemory, v1_root_path_falls_back_to_the_machine) {
    fake_system sys;
    write_machine(sys);
    sys.write("proc/self/cgroup", "4:memory:/\n0::/\n");
    // The root's counters are the whole hierarchy's, not a group of this process.
    sys.write("sys/fs/cgroup/memory/memory.kmem.usage_in_bytes", "124297216\n");
    sys.write("sys/fs/cgroup/memory/memory.kmem.tcp.usage_in_bytes", "0\n");
    const auto memory = sys.kernel();

    EXPECT_TRUE(from(memory, kernel_memory_source::machine));
    EXPECT_EQ(bytes_of(memory), std::optional<std::uint64_t>(machine_bytes));
}

TEST(KernelMemory, v2_root_falls_back_to_the_machine_but_a_namespace_root_is_read) {
    fake_system sys;
    write_machine(sys);
    sys.write("proc/self/cgroup", "0::/\n");
    // Newer kernels give the real root a memory.stat summing everyone, but no memory.current.
    sys.write("sys/fs/cgroup/memory.stat", "kernel 900000000\nsock 1000000\n");
    EXPECT_TRUE(from(sys.kernel(), kernel_memory_source::machine));
    EXPECT_EQ(bytes_of(sys.kernel()), std::optional<std::uint64_t>(machine_bytes));

    // Inside a cgroup namespace (a container) "/" is the container's own cgroup.
    sys.write("sys/fs/cgroup/memory.current", "1200000000\n");
    EXPECT_TRUE(from(sys.kernel(), kernel_memory_source::cgroup_v2));
    EXPECT_EQ(bytes_of(sys.kernel()), std::optional<std::uint64_t>(901000000));
}

TEST(KernelMemory, container_without_cgroup_namespace_reads_the_mount_root) {
    // As for the limits: the host path is missing under the mount, whose root is the
    // container's own cgroup.
    fake_system v1;
    write_machine(v1);
    v1.write("proc/self/cgroup", "12:memory:/docker/abc\n");
    v1.write("sys/fs/cgroup/memory/memory.kmem.usage_in_bytes", "2000000\n");
    v1.write("sys/fs/cgroup/memory/memory.kmem.tcp.usage_in_bytes", "4096\n");
    EXPECT_TRUE(from(v1.kernel(), kernel_memory_source::cgroup_v1));
    EXPECT_EQ(bytes_of(v1.kernel()), std::optional<std::uint64_t>(2004096));

    fake_system v2;
    write_machine(v2);
    v2.write("proc/self/cgroup", "0::/system.slice/docker-0123abcd.scope\n");
    v2.write("sys/fs/cgroup/memory.stat", "kernel 3000000\nsock 8192\n");
    EXPECT_TRUE(from(v2.kernel(), kernel_memory_source::cgroup_v2));
    EXPECT_EQ(bytes_of(v2.kernel()), std::optional<std::uint64_t>(3008192));
}

TEST(KernelMemory, missing_cgroup_files_fall_back_to_the_machine) {
    fake_system v1;
    write_machine(v1);
    v1.write("proc/self/cgroup", "4:memory:/a\n");
    // A kernel without kmem accounting has the memory files but no kmem ones.
    v1.write("sys/fs/cgroup/memory/a/memory.usage_in_bytes", "4000000\n");
    v1.write("sys/fs/cgroup/memory/a/memory.kmem.tcp.usage_in_bytes", "4096\n");
    EXPECT_TRUE(from(v1.kernel(), kernel_memory_source::machine));
    EXPECT_EQ(bytes_of(v1.kernel()), std::optional<std::uint64_t>(machine_bytes));

    fake_system v2;
    write_machine(v2);
    v2.write("proc/self/cgroup", "0::/a\n");
    v2.write("sys/fs/cgroup/a/memory.current", "4000000\n");
    EXPECT_TRUE(from(v2.kernel(), kernel_memory_source::machine));
    EXPECT_EQ(bytes_of(v2.kernel()), std::optional<std::uint64_t>(machine_bytes));

    // No memory controller listed at all.
    fake_system none;
    write_machine(none);
    none.write("proc/self/cgroup", "1:cpu:/a\n");
    EXPECT_TRUE(from(none.kernel(), kernel_memory_source::machine));
}

TEST(KernelMemory, zero_kernel_memory_means_no_kmem_accounting_and_falls_back) {
    fake_system v1;
    write_machine(v1);
    v1.write("proc/self/cgroup", "4:memory:/a\n");
    v1.write("sys/fs/cgroup/memory/a/memory.kmem.usage_in_bytes", "0\n");
    v1.write("sys/fs/cgroup/memory/a/memory.kmem.tcp.usage_in_bytes", "0\n");
    EXPECT_TRUE(from(v1.kernel(), kernel_memory_source::machine));

    fake_system v2;
    write_machine(v2);
    v2.write("proc/self/cgroup", "0::/a\n");
    v2.write("sys/fs/cgroup/a/memory.stat", "kernel 0\nsock 40960\n");
    EXPECT_TRUE(from(v2.kernel(), kernel_memory_source::machine));
}

TEST(KernelMemory, machine_is_slab_plus_socket_pages_plus_fragment_bytes) {
    fake_system sys;
    write_machine(sys);
    const auto memory = sys.kernel();

    EXPECT_TRUE(from(memory, kernel_memory_source::machine));
    EXPECT_EQ(bytes_of(memory), std::optional<std::uint64_t>(slab_bytes + 35 * page_bytes() + 1024));
    EXPECT_EQ(bytes_of(memory), std::optional<std::uint64_t>(164258816 + 35 * page_bytes()));
}

TEST(KernelMemory, machine_without_usable_sockstat_is_slab_alone) {
    fake_system sys;
    sys.write("proc/meminfo", meminfo_content);
    EXPECT_EQ(bytes_of(sys.kernel()), std::optional<std::uint64_t>(slab_bytes));

    // A line that does not parse counts 0; the others still count.
    sys.write("proc/net/sockstat",
              "sockets: used 12\nTCP: inuse 1 orphan 0 tw 0 alloc 1 mem lots\nUDP: inuse 2 mem 5\n"
              "FRAG: inuse 1 memory -3\n");
    EXPECT_EQ(bytes_of(sys.kernel()), std::optional<std::uint64_t>(slab_bytes + 5 * page_bytes()));

    // A last line cut off mid-number is not read: "mem 3" may have been "mem 30".
    sys.write("proc/net/sockstat", "sockets: used 12\nUDP: inuse 2 mem 5\nTCP: inuse 1 mem 3");
    EXPECT_EQ(bytes_of(sys.kernel()), std::optional<std::uint64_t>(slab_bytes + 5 * page_bytes()));
}

TEST(KernelMemory, malformed_or_truncated_cgroup_files_fall_back_to_the_machine) {
    for (const std::string_view stat :
         {"", "\n", "kernel 5000000\nsock 4096", "kernel 5000000\nsock", "kernel 5000000\n",
          "kernel five\nsock 4096\n", "kernel 5000000 kB\nsock 4096\n", "kernel -5\nsock 4096\n",
          "kernel 5000000\nsock 0x10\n", "sock 4096\n", "slab 300000\nkernel_stack 16384\nsock 8192\n",
          "slab 300000\nkernel_stack 16384\npagetables 40960\npercpu ?\nsock 8192\n",
          "kernel 99999999999999999999999\nsock 1\n"}) {
        SCOPED_TRACE(testing::Message() << "memory.stat: '" << stat << "'");
        fake_system sys;
        write_machine(sys);
        sys.write("proc/self/cgroup", "0::/a\n");
        sys.write("sys/fs/cgroup/a/memory.stat", stat);
        EXPECT_TRUE(from(sys.kernel(), kernel_memory_source::machine));
        EXPECT_EQ(bytes_of(sys.kernel()), std::optional<std::uint64_t>(machine_bytes));
    }
    const std::array<std::array<std::string_view, 2>, 7> v1_cases{{
        {"", "0\n"},
        {"991232", "0\n"},  // cut off: perhaps 9912320
        {"abc\n", "0\n"},
        {"-1\n", "0\n"},
        {"991232\n", "65"},
        {"991232\n", "\n"},
        {"991232 4096\n", "0\n"},
    }};
    for (const auto& [kmem, tcp] : v1_cases) {
        SCOPED_TRACE(testing::Message() << "kmem '" << kmem << "' tcp '" << tcp << "'");
        fake_system sys;
        write_machine(sys);
        sys.write("proc/self/cgroup", "4:memory:/a\n");
        sys.write("sys/fs/cgroup/memory/a/memory.kmem.usage_in_bytes", kmem);
        sys.write("sys/fs/cgroup/memory/a/memory.kmem.tcp.usage_in_bytes", tcp);
        EXPECT_TRUE(from(sys.kernel(), kernel_memory_source::machine));
    }
}

TEST(KernelMemory, malformed_or_truncated_meminfo_is_nullopt) {
    for (const std::string_view meminfo :
         {"", "MemTotal:       24684096 kB\n", "Slab:             160408 kB", "Slab:             1604",
          "Slab:             lots kB\n", "Slab:             160408\n", "Slab:             160408 MB\n",
          "SlabTotal:        160408 kB\n"}) {
        SCOPED_TRACE(testing::Message() << "meminfo: '" << meminfo << "'");
        fake_system sys;
        sys.write("proc/meminfo", meminfo);
        sys.write("proc/net/sockstat", sockstat_content);
        EXPECT_EQ(sys.kernel(), std::nullopt);
    }
}

TEST(KernelMemory, nothing_readable_is_nullopt) {
    fake_system empty;
    EXPECT_EQ(empty.kernel(), std::nullopt);

    // A cgroup without its files, and no /proc/meminfo.
    fake_system sys;
    sys.write("proc/self/cgroup", "4:memory:/a\n");
    sys.make_directory("sys/fs/cgroup/memory/a");
    sys.write("proc/net/sockstat", sockstat_content);
    EXPECT_EQ(sys.kernel(), std::nullopt);
}

// Unblocks any reader stuck opening or reading `fifos` once `patience` has passed, so
// that a probe which waits on a FIFO fails the test instead of hanging it.
class fifo_watchdog {
public:
    fifo_watchdog(std::vector<fs::path> fifos, std::chrono::milliseconds patience)
        : thread_([this, fifos = std::move(fifos), patience] {
              if (done_.try_acquire_for(patience)) return;
              do {
                  // A writer that opens and closes at once lets a blocked reader's open
                  // return and its read see end of file.
                  for (const auto& fifo : fifos) {
                      const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
                      if (fd >= 0) ::close(fd);
                  }
              } while (!done_.try_acquire_for(std::chrono::milliseconds(10)));
          }) {}
    ~fifo_watchdog() {
        done_.release();
        thread_.join();
    }
    fifo_watchdog(const fifo_watchdog&) = delete;
    fifo_watchdog& operator=(const fifo_watchdog&) = delete;

private:
    std::binary_semaphore done_{0};
    std::thread thread_;
};

TEST(KernelMemory, fifo_in_place_of_a_file_is_refused_not_waited_on) {
    using clock = std::chrono::steady_clock;
    fake_system v2;
    write_machine(v2);
    v2.write("proc/self/cgroup", "0::/a\n");
    fake_system v1;
    write_machine(v1);
    v1.write("proc/self/cgroup", "4:memory:/a\n");
    v1.write("sys/fs/cgroup/memory/a/memory.kmem.usage_in_bytes", "991232\n");
    fake_system machine;
    fake_system sockets;
    sockets.write("proc/meminfo", meminfo_content);
    fake_system limits;
    limits.write("proc/self/cgroup", "0::/a\n");
    const std::vector<fs::path> fifos{
        v2.make_fifo("sys/fs/cgroup/a/memory.stat"),
        v1.make_fifo("sys/fs/cgroup/memory/a/memory.kmem.tcp.usage_in_bytes"),
        machine.make_fifo("proc/meminfo"),
        sockets.make_fifo("proc/net/sockstat"),
        limits.make_fifo("sys/fs/cgroup/a/memory.max"),
    };

    const auto start = clock::now();
    std::optional<kernel_memory> from_v2;
    std::optional<kernel_memory> from_v1;
    std::optional<kernel_memory> from_machine;
    std::optional<kernel_memory> from_sockets;
    std::optional<std::uint64_t> limit;
    {
        const fifo_watchdog watchdog(fifos, std::chrono::seconds(5));
        from_v2 = v2.kernel();
        from_v1 = v1.kernel();
        from_machine = machine.kernel();
        from_sockets = sockets.kernel();
        limit = limits.memory_limit();
    }
    const auto elapsed = clock::now() - start;

    EXPECT_LT(elapsed, std::chrono::seconds(2)) << "a probe waited on a FIFO";
    EXPECT_TRUE(from(from_v2, kernel_memory_source::machine));
    EXPECT_EQ(bytes_of(from_v2), std::optional<std::uint64_t>(machine_bytes));
    EXPECT_TRUE(from(from_v1, kernel_memory_source::machine));
    EXPECT_EQ(from_machine, std::nullopt);
    EXPECT_EQ(bytes_of(from_sockets), std::optional<std::uint64_t>(slab_bytes));
    EXPECT_EQ(limit, std::nullopt);
}

TEST(KernelMemory, this_machine_reports_some) {
    const auto memory = read_kernel_memory();
    ASSERT_TRUE(memory.has_value());
    EXPECT_GT(memory->bytes, 0U) << "source " << to_string(memory->source);
}

// ---- cgroup v2 --------------------------------------------------------------------

TEST(CgroupV2, limits_come_from_the_process_own_cgroup) {
    fake_system sys;
    sys.write("proc/self/cgroup", "0::/kubepods/pod1/ctr\n");
    sys.write("sys/fs/cgroup/kubepods/pod1/ctr/memory.max", "536870912\n");
    sys.write("sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "50000 100000\n");
    // Files at the mount root belong to another cgroup and must not be read.
    sys.write("sys/fs/cgroup/memory.max", "1073741824\n");
    sys.write("sys/fs/cgroup/cpu.max", "400000 100000\n");

    EXPECT_EQ(sys.memory_limit(), std::optional<std::uint64_t>(536870912));
    EXPECT_EQ(sys.cpu_limit(), std::optional<double>(0.5));
}

TEST(CgroupV2, max_means_no_limit) {
    fake_system sys;
    sys.write("proc/self/cgroup", "0::/user.slice\n");
    sys.write("sys/fs/cgroup/user.slice/memory.max", "max\n");
    sys.write("sys/fs/cgroup/user.slice/cpu.max", "max 100000\n");

    EXPECT_EQ(sys.memory_limit(), std::nullopt);
    EXPECT_EQ(sys.cpu_limit(), std::nullopt);
}

TEST(CgroupV2, path_missing_under_the_mount_falls_back_to_the_mount_root) {
    // A container without its own cgroup namespace: /proc/self/cgroup shows the host
    // path, while only the container's cgroup is mounted.
    fake_system sys;
    sys.write("proc/self/cgroup", "0::/system.slice/docker-0123abcd.scope\n");
    sys.write("sys/fs/cgroup/memory.max", "1073741824\n");
    sys.write("sys/fs/cgroup/cpu.max", "200000 100000\n");

    EXPECT_EQ(sys.memory_limit(), std::optional<std::uint64_t>(1073741824));
    EXPECT_EQ(sys.cpu_limit(), std::optional<double>(2.0));
}

TEST(CgroupV2, root_cgroup_has_no_limit_files) {
    fake_system sys;
    sys.write("proc/self/cgroup", "0::/\n");
    sys.make_directory("sys/fs/cgroup");

    EXPECT_EQ(sys.memory_limit(), std::nullopt);
    EXPECT_EQ(sys.cpu_limit(), std::nullopt);
}

// ---- cgroup v1 --------------------------------------------------------------------

TEST(CgroupV1, limits_come_from_the_controller_hierarchies) {
    fake_system sys;
    // Hybrid layout: v1 controllers plus an empty unified line, as systemd sets up.
    sys.write("proc/self/cgroup",
              "12:memory:/docker/abc\n"
              "4:cpu,cpuacct:/docker/abc\n"
              "1:name=systemd:/docker/abc\n"
              "0::/docker/abc\n");
    sys.write("sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "268435456\n");
    sys.write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "150000\n");
    sys.write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
    // The unified hierarchy holds no memory or cpu controller in hybrid mode.
    sys.write("sys/fs/cgroup/docker/abc/memory.max", "1\n");
    sys.write("sys/fs/cgroup/docker/abc/cpu.max", "1000 100000\n");

    EXPECT_EQ(sys.memory_limit(), std::optional<std::uint64_t>(268435456));
    EXPECT_EQ(sys.cpu_limit(), std::optional<double>(1.5));
}

TEST(CgroupV1, largest_page_counter_means_no_limit) {
    fake_system sys;
    sys.write("proc/self/cgroup", "4:memory:/\n2:cpuacct:/\n1:cpu:/\n0::/\n");
    // LONG_MAX rounded down to 4 KiB pages: what the kernel shows when none is set.
    sys.write("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
    sys.write("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n");
    sys.write("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");

    EXPECT_EQ(sys.memory_limit(), std::nullopt);
    EXPECT_EQ(sys.cpu_limit(), std::nullopt);
}

TEST(CgroupV1, large_limit_below_the_page_counter_maximum_is_a_limit) {
    fake_system sys;
    sys.write("proc/self/cgroup", "4:memory:/batch\n");
    sys.write("sys/fs/cgroup/memory/batch/memory.limit_in_bytes", "1099511627776\n");

    EXPECT_EQ(sys.memory_limit(), std::optional<std::uint64_t>(1099511627776));
}

TEST(CgroupV1, cpu_hierarchy_is_also_found_under_plain_cpu) {
    fake_system sys;
    sys.write("proc/self/cgroup", "3:cpu,cpuacct:/job\n");
    sys.write("sys/fs/cgroup/cpu/job/cpu.cfs_quota_us", "25000\n");
    sys.write("sys/fs/cgroup/cpu/job/cpu.cfs_period_us", "100000\n");

    EXPECT_EQ(sys.cpu_limit(), std::optional<double>(0.25));
}

TEST(CgroupV1, path_missing_under_the_mount_falls_back_to_the_mount_root) {
    fake_system sys;
    sys.write("proc/self/cgroup", "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n");
    sys.write("sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n");
    sys.write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "300000\n");
    sys.write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");

    EXPECT_EQ(sys.memory_limit(), std::optional<std::uint64_t>(536870912));
    EXPECT_EQ(sys.cpu_limit(), std::optional<double>(3.0));
}

TEST(CgroupV1, quota_without_period_is_no_limit) {
    fake_system sys;
    sys.write("proc/self/cgroup", "4:cpu,cpuacct:/\n");
    sys.write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "50000\n");

    EXPECT_EQ(sys.cpu_limit(), std::nullopt);
}

// ---- unreadable or malformed input --------------------------------------------------

TEST(CgroupProbes, missing_proc_file_means_no_limit) {
    fake_system sys;
    sys.write("sys/fs/cgroup/memory.max", "1073741824\n");
    sys.write("sys/fs/cgroup/cpu.max", "100000 100000\n");

    EXPECT_EQ(sys.memory_limit(), std::nullopt);
    EXPECT_EQ(sys.cpu_limit(), std::nullopt);
}

TEST(CgroupProbes, malformed_proc_lines_are_ignored) {
    fake_system sys;
    sys.write("proc/self/cgroup", "hello\n\n:::\nx:memory:/a\n12:memory:relative\n");
    sys.write("sys/fs/cgroup/memory/memory.limit_in_bytes", "1073741824\n");

    EXPECT_EQ(sys.memory_limit(), std::nullopt);
}

TEST(CgroupProbes, path_may_contain_colons) {
    fake_system sys;
    sys.write("proc/self/cgroup", "0::/pod:a/b\n");
    sys.write("sys/fs/cgroup/pod:a/b/memory.max", "4096\n");

    EXPECT_EQ(sys.memory_limit(), std::optional<std::uint64_t>(4096));
}

TEST(CgroupProbes, garbage_memory_limit_is_no_limit) {
    for (const std::string_view content :
         {"", "\n", "lots\n", "12abc\n", "-5\n", "+5\n", "0x100\n", "1 2\n", "99999999999999999999999\n"}) {
        SCOPED_TRACE(testing::Message() << "content: '" << content << "'");
        fake_system v2;
        v2.write("proc/self/cgroup", "0::/a\n");
        v2.write("sys/fs/cgroup/a/memory.max", content);
        EXPECT_EQ(v2.memory_limit(), std::nullopt);

        fake_system v1;
        v1.write("proc/self/cgroup", "9:memory:/a\n");
        v1.write("sys/fs/cgroup/memory/a/memory.limit_in_bytes", content);
        EXPECT_EQ(v1.memory_limit(), std::nullopt);
    }
}

TEST(CgroupProbes, garbage_cpu_max_is_no_limit) {
    for (const std::string_view content :
         {"", "max\n", "fifty 100000\n", "50000\n", "50000 0\n", "50000 100000 7\n", "0 100000\n",
          "-1 100000\n", "50000 -100000\n", "5e4 100000\n"}) {
        SCOPED_TRACE(testing::Message() << "content: '" << content << "'");
        fake_system sys;
        sys.write("proc/self/cgroup", "0::/a\n");
        sys.write("sys/fs/cgroup/a/cpu.max", content);
        EXPECT_EQ(sys.cpu_limit(), std::nullopt);
    }
}

TEST(CgroupProbes, garbage_cfs_quota_or_period_is_no_limit) {
    const std::array<std::array<std::string_view, 2>, 5> cases{{
        {"abc\n", "100000\n"},
        {"50000\n", "0\n"},
        {"50000\n", "x\n"},
        {"0\n", "100000\n"},
        {"\n", "\n"},
    }};
    for (const auto& [quota, period] : cases) {
        SCOPED_TRACE(testing::Message() << "quota '" << quota << "' period '" << period << "'");
        fake_system sys;
        sys.write("proc/self/cgroup", "4:cpu,cpuacct:/a\n");
        sys.write("sys/fs/cgroup/cpu,cpuacct/a/cpu.cfs_quota_us", quota);
        sys.write("sys/fs/cgroup/cpu,cpuacct/a/cpu.cfs_period_us", period);
        EXPECT_EQ(sys.cpu_limit(), std::nullopt);
    }
}

TEST(CgroupProbes, real_system_answers_without_throwing) {
    std::optional<std::uint64_t> memory;
    std::optional<double> cpu;
    EXPECT_NO_THROW(memory = cgroup_memory_limit());
    EXPECT_NO_THROW(cpu = cgroup_cpu_limit());
    EXPECT_GT(memory.value_or(1), 0U);
    EXPECT_GT(cpu.value_or(1), 0.0);
}

// ---- this process -------------------------------------------------------------------

// Stores the pointer where the optimiser must assume anyone may read it, so that writes
// to memory that nothing else in the test reads are not dropped.
void* volatile escaped = nullptr;
void escape(void* pointer) { escaped = pointer; }

struct free_deleter {
    void operator()(void* pointer) const { std::free(pointer); }
};

double process_cpu_seconds_now() {
    timespec now{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

double unix_time_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(ResidentBytes, grows_by_a_touched_64_mib_buffer) {
    constexpr std::size_t size = 64 * mib;
    const std::uint64_t before = resident_bytes();
    const auto buffer = std::make_unique_for_overwrite<char[]>(size);
    std::memset(buffer.get(), 0x5a, size);
    escape(buffer.get());
    const std::uint64_t after = resident_bytes();

    EXPECT_GE(after, before + 60 * mib) << "before " << before << " after " << after;
}

TEST(VirtualBytes, is_at_least_the_resident_size) {
    EXPECT_GE(virtual_bytes(), resident_bytes());
    EXPECT_GT(resident_bytes(), 0U);
}

TEST(HeapInUseBytes, grows_by_malloced_blocks) {
    constexpr std::size_t blocks = 4;
    const std::uint64_t before = heap_in_use_bytes();
    std::vector<std::unique_ptr<void, free_deleter>> held;
    for (std::size_t i = 0; i < blocks; ++i) {
        held.emplace_back(std::malloc(mib));
        ASSERT_NE(held.back(), nullptr);
        escape(held.back().get());
    }
    const std::uint64_t after = heap_in_use_bytes();

    EXPECT_GE(after, before + blocks * mib) << "before " << before << " after " << after;
}

TEST(ProcessStats, threads_rise_while_a_thread_runs) {
    const std::uint64_t before = read_process_stats().threads;
    EXPECT_GE(before, 1U);

    std::latch started{1};
    std::latch release{1};
    std::thread thread([&] {
        started.count_down();
        release.wait();
    });
    started.wait();
    const std::uint64_t during = read_process_stats().threads;
    release.count_down();
    thread.join();

    // Not exactly one more: sanitizer runtimes start a helper thread alongside the
    // process's first extra thread.
    EXPECT_GT(during, before);
}

TEST(ProcessStats, open_fds_rise_by_one_per_open_file) {
    const std::uint64_t before = read_process_stats().open_fds;
    const int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    const std::uint64_t during = read_process_stats().open_fds;
    ::close(fd);

    EXPECT_EQ(during, before + 1);
    EXPECT_EQ(read_process_stats().open_fds, before);
}

TEST(ProcessStats, max_fds_is_the_soft_descriptor_limit) {
    rlimit limit{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
    const process_stats stats = read_process_stats();

    EXPECT_EQ(stats.max_fds, limit.rlim_cur);
    EXPECT_GE(stats.max_fds, stats.open_fds);
}

TEST(ProcessStats, cpu_seconds_rise_after_a_busy_loop) {
    const double before = read_process_stats().cpu_seconds;
    // Spin on CPU time rather than wall time, so a loaded machine cannot shorten it.
    const double start = process_cpu_seconds_now();
    while (process_cpu_seconds_now() - start < 0.1) {
    }
    const double after = read_process_stats().cpu_seconds;

    // The kernel accounts in clock ticks (10 ms at USER_HZ 100).
    EXPECT_GE(after - before, 0.05) << "before " << before << " after " << after;
}

TEST(ProcessStats, start_time_is_in_the_recent_past) {
    const double now = unix_time_now();
    const double start = read_process_stats().start_time_seconds;

    // Boot time has whole-second resolution.
    EXPECT_LE(start, now + 1.0);
    EXPECT_GT(start, now - 600.0);
}

TEST(ProcessStats, memory_matches_the_memory_probes) {
    const process_stats stats = read_process_stats();

    EXPECT_GT(stats.resident_bytes, 0U);
    EXPECT_GE(stats.virtual_bytes, stats.resident_bytes);
    // Read a moment apart, the two differ only by what was touched in between.
    EXPECT_NEAR(static_cast<double>(stats.resident_bytes), static_cast<double>(resident_bytes()),
                static_cast<double>(16 * mib));
}

TEST(ProcessStats, command_name_with_spaces_and_parentheses_is_parsed) {
    // The main thread's name is the comm field of /proc/self/stat.
    std::array<char, 16> original{};
    ASSERT_EQ(::prctl(PR_GET_NAME, original.data()), 0);
    ASSERT_EQ(::prctl(PR_SET_NAME, "a) b (c) 1 2 3"), 0);
    const process_stats stats = read_process_stats();
    ::prctl(PR_SET_NAME, original.data());

    EXPECT_GE(stats.threads, 1U);
    EXPECT_GT(stats.start_time_seconds, unix_time_now() - 600.0);
    EXPECT_LE(stats.start_time_seconds, unix_time_now() + 1.0);
}

// ---- CPUs and machine facts -----------------------------------------------------------

TEST(AvailableCpus, is_between_one_and_the_hardware_threads) {
    const unsigned cpus = available_cpus();

    EXPECT_GE(cpus, 1U);
    EXPECT_LE(cpus, std::thread::hardware_concurrency());
}

TEST(MachineFacts, total_memory_exceeds_this_process) { EXPECT_GT(total_memory_bytes(), resident_bytes()); }

TEST(MachineFacts, kernel_release_is_uname_release) {
    utsname names{};
    ASSERT_EQ(::uname(&names), 0);

    EXPECT_EQ(kernel_release(), names.release);
}

TEST(MachineFacts, cpu_model_is_named_when_cpuinfo_names_it) {
    std::ifstream cpuinfo("/proc/cpuinfo");
    const std::string content{std::istreambuf_iterator<char>(cpuinfo), {}};
    if (content.find("model name") == std::string::npos) {
        GTEST_SKIP() << "/proc/cpuinfo has no \"model name\" on this architecture";
    }

    EXPECT_FALSE(cpu_model().empty());
}

}  // namespace
}  // namespace corostorm::metrics
