#include "metrics/probes.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
