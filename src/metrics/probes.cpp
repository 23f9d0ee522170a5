#include "metrics/probes.h"

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <limits>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

// Under ASan and TSan, malloc is the sanitizer's allocator, and glibc's mallinfo2()
// sees none of it; the sanitizer runtime keeps its own count of the bytes in use.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COROSTORM_SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define COROSTORM_SANITIZER_ALLOCATOR 1
#endif
#endif

#ifdef COROSTORM_SANITIZER_ALLOCATOR
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace corostorm::metrics {
namespace {

namespace fs = std::filesystem;

// The whole content of a small file, or nullopt if it cannot be opened or read.
// /proc and /sys files report a size of 0, so read until end of file.
// Only regular files are read, as every /proc and /sys file is: a FIFO or a device
// put in a file's place would block a scrape forever. O_NONBLOCK keeps the open of a
// FIFO without a writer from blocking before it can be refused.
std::optional<std::string> read_file(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        return std::nullopt;
    }
    struct stat status {};
    if (::fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
        ::close(fd);
        return std::nullopt;
    }
    std::string content;
    std::array<char, 4096> chunk{};
    for (;;) {
        const ssize_t n = ::read(fd, chunk.data(), chunk.size());
        if (n > 0) {
            content.append(chunk.data(), static_cast<std::size_t>(n));
        } else if (n == 0) {
            break;
        } else if (errno != EINTR) {
            ::close(fd);
            return std::nullopt;
        }
    }
    ::close(fd);
    return content;
}

constexpr std::string_view whitespace = " \t\n\r";

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(whitespace);
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(whitespace) - first + 1);
}

std::vector<std::string_view> split_lines(std::string_view s) {
    std::vector<std::string_view> lines;
    while (!s.empty()) {
        const auto eol = s.find('\n');
        lines.push_back(s.substr(0, eol));
        s.remove_prefix(eol == std::string_view::npos ? s.size() : eol + 1);
    }
    return lines;
}

// Whitespace-separated tokens of `s`.
std::vector<std::string_view> split(std::string_view s) {
    std::vector<std::string_view> tokens;
    for (auto begin = s.find_first_not_of(whitespace); begin != std::string_view::npos;) {
        const auto end = s.find_first_of(whitespace, begin);
        tokens.push_back(s.substr(begin, end == std::string_view::npos ? end : end - begin));
        begin = s.find_first_not_of(whitespace, end);
    }
    return tokens;
}

// A decimal integer spanning all of `s` (surrounding whitespace allowed); anything
// else, including a sign on an unsigned type, is nullopt.
template <typename Integer>
std::optional<Integer> parse_integer(std::string_view s) {
    s = trim(s);
    Integer value{};
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
        return std::nullopt;
    }
    return value;
}

// The value of the first line of `content` of the form "<key><separator> value",
// e.g. "MemTotal:  24684096 kB" or "model name\t: AMD EPYC".
std::optional<std::string_view> find_field(std::string_view content, std::string_view key) {
    for (const auto line : split_lines(content)) {
        if (line.starts_with(key)) {
            const auto rest = line.substr(key.size());
            const auto colon = rest.find(':');
            if (colon != std::string_view::npos && trim(rest.substr(0, colon)).empty()) {
                return trim(rest.substr(colon + 1));
            }
        }
    }
    return std::nullopt;
}

std::uint64_t page_size() {
    const long size = ::sysconf(_SC_PAGESIZE);
    return size > 0 ? static_cast<std::uint64_t>(size) : 4096;
}

// (size, resident) of /proc/self/statm, in bytes.
std::pair<std::uint64_t, std::uint64_t> read_statm() {
    const auto content = read_file("/proc/self/statm");
    if (!content) {
        return {0, 0};
    }
    const auto fields = split(*content);
    if (fields.size() < 2) {
        return {0, 0};
    }
    const std::uint64_t page = page_size();
    return {parse_integer<std::uint64_t>(fields[0]).value_or(0) * page,
            parse_integer<std::uint64_t>(fields[1]).value_or(0) * page};
}

// Boot time in seconds since the epoch. The kernel derives it from the wall clock
// on every read, so it can move by a second between reads; taking it once keeps
// process_start_time_seconds constant for the life of the process.
std::optional<std::uint64_t> boot_time_seconds() {
    static const std::optional<std::uint64_t> boot_time = []() -> std::optional<std::uint64_t> {
        const auto content = read_file("/proc/stat");
        if (!content) {
            return std::nullopt;
        }
        for (const auto line : split_lines(*content)) {
            if (line.starts_with("btime ")) {
                return parse_integer<std::uint64_t>(line.substr(6));
            }
        }
        return std::nullopt;
    }();
    return boot_time;
}

// Descriptors open in this process, not counting the one used to list them.
// Since Linux 6.2 the size of /proc/self/fd is that count: one stat(), where
// listing the directory makes the kernel build a proc inode and a dentry for
// every descriptor (about 1 KB each, cached): with 20k sockets, measuring
// would grow the kernel memory it is there to measure by 20 MB.
std::uint64_t count_open_fds() {
    struct stat st {};
    if (::stat("/proc/self/fd", &st) == 0 && st.st_size > 0) return static_cast<std::uint64_t>(st.st_size);
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        return 0;
    }
    const int own_fd = ::dirfd(dir);
    std::uint64_t count = 0;
    while (const dirent* entry = ::readdir(dir)) {
        const auto fd = parse_integer<int>(entry->d_name);
        if (fd && *fd != own_fd) {
            ++count;
        }
    }
    ::closedir(dir);
    return count;
}

// ---- cgroups ----------------------------------------------------------------------

// One line of /proc/<pid>/cgroup: "hierarchy-id:controller-list:path".
struct cgroup_line {
    std::string_view hierarchy;
    std::string_view controllers;  // comma-separated; empty for the v2 unified line
    std::string_view path;
};

std::vector<cgroup_line> parse_cgroup_file(std::string_view content) {
    std::vector<cgroup_line> lines;
    for (const auto line : split_lines(content)) {
        // The path may itself contain ':', so only the first two separate fields.
        const auto first = line.find(':');
        const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
        if (second == std::string_view::npos) {
            continue;
        }
        cgroup_line parsed{line.substr(0, first), line.substr(first + 1, second - first - 1),
                           line.substr(second + 1)};
        if (parse_integer<unsigned>(parsed.hierarchy) && parsed.path.starts_with('/')) {
            lines.push_back(parsed);
        }
    }
    return lines;
}

bool lists_controller(std::string_view controllers, std::string_view controller) {
    while (!controllers.empty()) {
        const auto comma = controllers.find(',');
        if (controllers.substr(0, comma) == controller) {
            return true;
        }
        controllers.remove_prefix(comma == std::string_view::npos ? controllers.size() : comma + 1);
    }
    return false;
}

bool directory_exists(const fs::path& path) {
    std::error_code ec;
    return fs::is_directory(path, ec);
}

enum class cgroup_version { v1, v2 };

struct cgroup_dir {
    cgroup_version version;
    fs::path dir;  // where the controller's interface files for this process live
    // /proc/self/cgroup names "/": the hierarchy's root, or that of a cgroup namespace.
    bool root_path = false;
};

// The directory holding `controller`'s files for this process. A controller named on a
// v1 line lives in that v1 hierarchy even when a v2 line is present too (hybrid mode).
// Inside a container without its own cgroup namespace, /proc/self/cgroup shows the
// host's path while only the container's own cgroup is mounted: that path does not
// exist under the mount, and the mount root is the process's cgroup.
std::optional<cgroup_dir> locate_cgroup(const std::string& proc_root, const std::string& cgroup_root,
                                        std::string_view controller) {
    const auto content = read_file(proc_root + "/self/cgroup");
    if (!content) {
        return std::nullopt;
    }
    const auto lines = parse_cgroup_file(*content);
    const fs::path root(cgroup_root);
    // Leading '/' stripped so that operator/ appends instead of replacing.
    const auto relative = [](std::string_view path) { return fs::path(path.substr(1)); };

    for (const auto& line : lines) {
        if (line.hierarchy == "0" || !lists_controller(line.controllers, controller)) {
            continue;
        }
        // Mounted under its controller list ("cpu,cpuacct"), often also reachable
        // under the controller's own name ("cpu").
        std::vector<fs::path> mounts{root / std::string(line.controllers)};
        if (line.controllers != controller) {
            mounts.push_back(root / std::string(controller));
        }
        const bool root_path = line.path == "/";
        for (const auto& mount : mounts) {
            if (directory_exists(mount / relative(line.path))) {
                return cgroup_dir{cgroup_version::v1, mount / relative(line.path), root_path};
            }
        }
        for (const auto& mount : mounts) {
            if (directory_exists(mount)) {
                return cgroup_dir{cgroup_version::v1, mount, root_path};
            }
        }
        return std::nullopt;
    }
    for (const auto& line : lines) {
        if (line.hierarchy == "0" && line.controllers.empty()) {
            const auto own = root / relative(line.path);
            return cgroup_dir{cgroup_version::v2, directory_exists(own) ? own : root, line.path == "/"};
        }
    }
    return std::nullopt;
}

// cgroup v1 reports "no limit" as the largest page counter: LONG_MAX rounded down
// to a whole page (9223372036854771712 with 4 KiB pages).
bool is_v1_unlimited(std::uint64_t limit) {
    const std::uint64_t page = page_size();
    const auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    return limit >= max / page * page;
}

// ---- kernel memory ------------------------------------------------------------------

// `content` up to and including its last newline. The kernel writes these files in
// whole lines, so a last line without its newline was cut off (a half-written copy, a
// short read) and its number may be missing digits.
std::string_view whole_lines(std::string_view content) {
    const auto last = content.rfind('\n');
    return last == std::string_view::npos ? std::string_view() : content.substr(0, last + 1);
}

// A file holding one number on a whole line, e.g. memory.kmem.usage_in_bytes.
std::optional<std::uint64_t> read_single_value(const fs::path& path) {
    const auto content = read_file(path);
    return content ? parse_integer<std::uint64_t>(whole_lines(*content)) : std::nullopt;
}

// Whether a flat-keyed file ("key value" lines, as memory.stat) has a line for `key`.
bool has_key(std::string_view content, std::string_view key) {
    for (const auto line : split_lines(content)) {
        const auto fields = split(line);
        if (!fields.empty() && fields[0] == key) {
            return true;
        }
    }
    return false;
}

// The value on the first line for `key` in a flat-keyed file; nullopt when absent or
// not "key number".
std::optional<std::uint64_t> keyed_value(std::string_view content, std::string_view key) {
    for (const auto line : split_lines(content)) {
        const auto fields = split(line);
        if (!fields.empty() && fields[0] == key) {
            return fields.size() == 2 ? parse_integer<std::uint64_t>(fields[1]) : std::nullopt;
        }
    }
    return std::nullopt;
}

// The number after `name` on the line labelled `label` of /proc/net/sockstat, e.g.
// ("TCP:", "mem") in "TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 30".
std::optional<std::uint64_t> sockstat_value(std::string_view content, std::string_view label,
                                            std::string_view name) {
    for (const auto line : split_lines(content)) {
        const auto fields = split(line);
        if (fields.empty() || fields[0] != label) {
            continue;
        }
        // Names and values alternate after the label.
        for (std::size_t i = 1; i + 1 < fields.size(); i += 2) {
            if (fields[i] == name) {
                return parse_integer<std::uint64_t>(fields[i + 1]);
            }
        }
        return std::nullopt;
    }
    return std::nullopt;
}

// Kernel memory charged to a v2 cgroup, from its memory.stat. Every key the sum needs
// must be there and well formed, or the file is not trusted at all.
std::optional<std::uint64_t> v2_kernel_bytes(const fs::path& dir) {
    const auto file = read_file(dir / "memory.stat");
    if (!file) {
        return std::nullopt;
    }
    const auto content = whole_lines(*file);
    const auto sock = keyed_value(content, "sock");
    if (!sock) {
        return std::nullopt;
    }
    std::optional<std::uint64_t> kernel;
    if (has_key(content, "kernel")) {
        kernel = keyed_value(content, "kernel");
    } else {
        // Before `kernel` (5.18) the kernel's share was only listed by kind; percpu,
        // which `kernel` includes, is listed by some of these kernels only.
        const auto slab = keyed_value(content, "slab");
        const auto kernel_stack = keyed_value(content, "kernel_stack");
        const auto pagetables = keyed_value(content, "pagetables");
        const auto percpu =
            has_key(content, "percpu") ? keyed_value(content, "percpu") : std::optional<std::uint64_t>(0);
        if (slab && kernel_stack && pagetables && percpu) {
            kernel = *slab + *kernel_stack + *pagetables + *percpu;
        }
    }
    // 0: kmem accounting is off (cgroup.memory=nokmem), and sock alone would pass
    // for the whole figure.
    if (!kernel || *kernel == 0) {
        return std::nullopt;
    }
    return *kernel + *sock;
}

// Kernel memory charged to a v1 cgroup: kmem, plus TCP buffers, which v1 counts apart.
std::optional<std::uint64_t> v1_kernel_bytes(const fs::path& dir) {
    const auto kmem = read_single_value(dir / "memory.kmem.usage_in_bytes");
    if (!kmem || *kmem == 0) {  // 0: kmem accounting is off (cgroup.memory=nokmem)
        return std::nullopt;
    }
    const fs::path tcp_file = dir / "memory.kmem.tcp.usage_in_bytes";
    std::error_code ec;
    if (!fs::exists(tcp_file, ec)) {
        return kmem;
    }
    const auto tcp = read_single_value(tcp_file);
    if (!tcp) {
        return std::nullopt;
    }
    return *kmem + *tcp;
}

// Slab plus socket buffers of the whole machine.
std::optional<std::uint64_t> machine_kernel_bytes(const std::string& proc_root) {
    const auto meminfo = read_file(proc_root + "/meminfo");
    if (!meminfo) {
        return std::nullopt;
    }
    // "Slab:             160408 kB"
    const auto slab_field = find_field(whole_lines(*meminfo), "Slab");
    const auto slab_fields = slab_field ? split(*slab_field) : std::vector<std::string_view>{};
    if (slab_fields.size() != 2 || slab_fields[1] != "kB") {
        return std::nullopt;
    }
    const auto slab_kib = parse_integer<std::uint64_t>(slab_fields[0]);
    if (!slab_kib) {
        return std::nullopt;
    }
    std::uint64_t bytes = *slab_kib * 1024;
    if (const auto sockstat = read_file(proc_root + "/net/sockstat")) {
        const auto content = whole_lines(*sockstat);
        // TCP and UDP count pages, FRAG counts bytes.
        const std::uint64_t pages = sockstat_value(content, "TCP:", "mem").value_or(0) +
                                    sockstat_value(content, "UDP:", "mem").value_or(0);
        bytes += pages * page_size() + sockstat_value(content, "FRAG:", "memory").value_or(0);
    }
    return bytes;
}

}  // namespace

std::uint64_t resident_bytes() { return read_statm().second; }

std::uint64_t virtual_bytes() { return read_statm().first; }

std::optional<std::uint64_t> address_space_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
    return limit.rlim_cur;
}

std::uint64_t heap_in_use_bytes() {
#ifdef COROSTORM_SANITIZER_ALLOCATOR
    return __sanitizer_get_current_allocated_bytes();
#else
    const struct mallinfo2 info = ::mallinfo2();
    return info.uordblks + info.hblkhd;
#endif
}

process_stats read_process_stats() {
    process_stats stats;
    std::tie(stats.virtual_bytes, stats.resident_bytes) = read_statm();
    stats.open_fds = count_open_fds();
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        stats.max_fds = limit.rlim_cur;
    }

    const auto stat = read_file("/proc/self/stat");
    // "pid (comm) state ppid ...": comm is the executable name and may hold spaces
    // and ')', so the fixed fields start after the last ')'.
    const auto comm_end = stat ? stat->rfind(')') : std::string::npos;
    if (comm_end == std::string::npos) {
        return stats;
    }
    // Indices count from field 3 (state), the first after comm; see proc(5).
    constexpr std::size_t utime = 14 - 3;
    constexpr std::size_t stime = 15 - 3;
    constexpr std::size_t num_threads = 20 - 3;
    constexpr std::size_t starttime = 22 - 3;
    const auto fields = split(std::string_view(*stat).substr(comm_end + 1));
    if (fields.size() <= starttime) {
        return stats;
    }
    stats.threads = parse_integer<std::uint64_t>(fields[num_threads]).value_or(0);

    const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
    if (ticks_per_second <= 0) {
        return stats;
    }
    const auto ticks = static_cast<double>(ticks_per_second);
    const auto user = parse_integer<std::uint64_t>(fields[utime]);
    const auto system = parse_integer<std::uint64_t>(fields[stime]);
    if (user && system) {
        stats.cpu_seconds = static_cast<double>(*user + *system) / ticks;
    }
    const auto started = parse_integer<std::uint64_t>(fields[starttime]);
    const auto boot_time = boot_time_seconds();
    if (started && boot_time) {
        stats.start_time_seconds = static_cast<double>(*boot_time) + static_cast<double>(*started) / ticks;
    }
    return stats;
}

unsigned available_cpus() {
    unsigned cpus = 0;
    // One cpu_set_t covers 1024 CPUs; the kernel answers EINVAL when its mask is
    // larger than the buffer, so grow until it fits.
    for (std::size_t sets = 1; sets <= 64; sets *= 2) {
        std::vector<cpu_set_t> mask(sets);
        const std::size_t bytes = sets * sizeof(cpu_set_t);
        if (::sched_getaffinity(0, bytes, mask.data()) == 0) {
            cpus = static_cast<unsigned>(CPU_COUNT_S(bytes, mask.data()));
            break;
        }
        if (errno != EINVAL) {
            break;
        }
    }
    if (cpus == 0) {
        cpus = std::thread::hardware_concurrency();
    }
    if (const auto quota = cgroup_cpu_limit()) {
        const double whole_cpus = std::ceil(*quota);
        if (whole_cpus < static_cast<double>(cpus)) {
            cpus = static_cast<unsigned>(whole_cpus);
        }
    }
    return std::max(cpus, 1U);
}

std::optional<std::uint64_t> cgroup_memory_limit(const std::string& proc_root,
                                                 const std::string& cgroup_root) {
    const auto cgroup = locate_cgroup(proc_root, cgroup_root, "memory");
    if (!cgroup) {
        return std::nullopt;
    }
    if (cgroup->version == cgroup_version::v2) {
        const auto content = read_file(cgroup->dir / "memory.max");
        if (!content || trim(*content) == "max") {
            return std::nullopt;
        }
        return parse_integer<std::uint64_t>(*content);
    }
    const auto content = read_file(cgroup->dir / "memory.limit_in_bytes");
    const auto limit = content ? parse_integer<std::uint64_t>(*content) : std::nullopt;
    if (!limit || is_v1_unlimited(*limit)) {
        return std::nullopt;
    }
    return limit;
}

std::optional<std::uint64_t> cgroup_memory_working_set(const std::string& proc_root,
                                                       const std::string& cgroup_root) {
    const auto cgroup = locate_cgroup(proc_root, cgroup_root, "memory");
    if (!cgroup) {
        return std::nullopt;
    }
    const bool v2 = cgroup->version == cgroup_version::v2;
    const auto usage_file = read_file(cgroup->dir / (v2 ? "memory.current" : "memory.usage_in_bytes"));
    const auto usage = usage_file ? parse_integer<std::uint64_t>(*usage_file) : std::nullopt;
    if (!usage) {
        return std::nullopt;
    }
    std::uint64_t inactive_file = 0;
    if (const auto stat = read_file(cgroup->dir / "memory.stat")) {
        // "key value" lines; v1 has both a local and a hierarchical (total_) count.
        const std::string_view key = v2 ? "inactive_file" : "total_inactive_file";
        for (const auto line : split_lines(*stat)) {
            const auto fields = split(line);
            if (fields.size() == 2 && fields[0] == key) {
                inactive_file = parse_integer<std::uint64_t>(fields[1]).value_or(0);
                break;
            }
        }
    }
    return *usage > inactive_file ? *usage - inactive_file : 0;
}

std::optional<std::uint64_t> machine_memory_in_use(const std::string& meminfo) {
    const auto content = read_file(meminfo);
    if (!content) {
        return std::nullopt;
    }
    // "MemTotal:       24684096 kB"
    const auto kib = [&](std::string_view key) -> std::optional<std::uint64_t> {
        const auto field = find_field(*content, key);
        const auto fields = field ? split(*field) : std::vector<std::string_view>{};
        if (fields.size() != 2 || fields[1] != "kB") return std::nullopt;
        return parse_integer<std::uint64_t>(fields[0]);
    };
    const auto total = kib("MemTotal");
    const auto available = kib("MemAvailable");
    if (!total || !available) {
        return std::nullopt;
    }
    return (*total > *available ? *total - *available : 0) * 1024;
}

std::string_view to_string(kernel_memory_source s) {
    switch (s) {
        case kernel_memory_source::cgroup_v2:
            return "cgroup_v2";
        case kernel_memory_source::cgroup_v1:
            return "cgroup_v1";
        case kernel_memory_source::machine:
            return "machine";
    }
    return "machine";
}

std::optional<kernel_memory> read_kernel_memory(const std::string& proc_root,
                                                const std::string& cgroup_root) {
    if (const auto cgroup = locate_cgroup(proc_root, cgroup_root, "memory")) {
        const bool v2 = cgroup->version == cgroup_version::v2;
        // The real v2 root has no memory.current; a cgroup namespace's root, which
        // /proc/self/cgroup also shows as "/", does.
        std::error_code ec;
        const bool root = cgroup->root_path && (!v2 || !fs::exists(cgroup->dir / "memory.current", ec));
        if (!root) {
            const auto bytes = v2 ? v2_kernel_bytes(cgroup->dir) : v1_kernel_bytes(cgroup->dir);
            if (bytes) {
                return kernel_memory{*bytes,
                                     v2 ? kernel_memory_source::cgroup_v2 : kernel_memory_source::cgroup_v1};
            }
        }
    }
    if (const auto bytes = machine_kernel_bytes(proc_root)) {
        return kernel_memory{*bytes, kernel_memory_source::machine};
    }
    return std::nullopt;
}

std::optional<double> cgroup_cpu_limit(const std::string& proc_root, const std::string& cgroup_root) {
    const auto cgroup = locate_cgroup(proc_root, cgroup_root, "cpu");
    if (!cgroup) {
        return std::nullopt;
    }
    std::optional<std::int64_t> quota;
    std::optional<std::int64_t> period;
    if (cgroup->version == cgroup_version::v2) {
        // "$MAX $PERIOD", where $MAX is "max" when there is no quota.
        const auto content = read_file(cgroup->dir / "cpu.max");
        const auto fields = content ? split(*content) : std::vector<std::string_view>{};
        if (fields.size() != 2) {
            return std::nullopt;
        }
        quota = parse_integer<std::int64_t>(fields[0]);
        period = parse_integer<std::int64_t>(fields[1]);
    } else {
        // A quota of -1 means none.
        const auto quota_file = read_file(cgroup->dir / "cpu.cfs_quota_us");
        const auto period_file = read_file(cgroup->dir / "cpu.cfs_period_us");
        if (!quota_file || !period_file) {
            return std::nullopt;
        }
        quota = parse_integer<std::int64_t>(*quota_file);
        period = parse_integer<std::int64_t>(*period_file);
    }
    if (!quota || !period || *quota <= 0 || *period <= 0) {
        return std::nullopt;
    }
    return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::string cpu_model() {
    const auto content = read_file("/proc/cpuinfo");
    const auto model = content ? find_field(*content, "model name") : std::nullopt;
    return model ? std::string(*model) : std::string();
}

std::uint64_t total_memory_bytes() {
    if (const auto content = read_file("/proc/meminfo")) {
        // "MemTotal:       24684096 kB"
        if (const auto field = find_field(*content, "MemTotal")) {
            const auto fields = split(*field);
            if (fields.size() == 2 && fields[1] == "kB") {
                if (const auto kib = parse_integer<std::uint64_t>(fields[0])) {
                    return *kib * 1024;
                }
            }
        }
    }
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    return pages > 0 ? static_cast<std::uint64_t>(pages) * page_size() : 0;
}

std::string kernel_release() {
    utsname names{};
    return ::uname(&names) == 0 ? std::string(names.release) : std::string();
}

std::string compiler() {
#if defined(__clang__)
    return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    return std::string("g++ ") + __VERSION__;
#else
    return "unknown";
#endif
}

}  // namespace corostorm::metrics
