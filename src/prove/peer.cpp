#include "prove/peer.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include "prove/flags.h"
#include "metrics/revision.h"

extern char** environ;

namespace corostorm::prove {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view install_hint =
    "install the Go toolchain with `apt-get install golang-go` (scripts/setup.sh --test does), or pass "
    "--go-peer PATH to a built peer";

std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v == nullptr ? std::string() : std::string(v);
}

// Where execvp would find `name`: the first executable regular file in PATH.
std::string find_in_path(std::string_view name) {
    const std::string path = env_or_empty("PATH");
    std::size_t from = 0;
    while (from <= path.size()) {
        std::size_t to = path.find(':', from);
        if (to == std::string::npos) to = path.size();
        const std::string dir = path.substr(from, to - from);
        const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
        std::error_code ec;
        if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) {
            return candidate.string();
        }
        from = to + 1;
    }
    return {};
}

std::string cache_root() {
    if (const std::string xdg = env_or_empty("XDG_CACHE_HOME"); !xdg.empty()) {
        return (fs::path(xdg) / "corostorm").string();
    }
    if (const std::string home = env_or_empty("HOME"); !home.empty()) {
        return (fs::path(home) / ".cache" / "corostorm").string();
    }
    return {};
}

// The caller's environment with `overrides` ("NAME=value") replacing or adding entries.
std::vector<std::string> environment_with(const std::vector<std::string>& overrides) {
    std::vector<std::string> out;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const std::string_view name = entry.substr(0, entry.find('='));
        bool replaced = false;
        for (const auto& o : overrides) replaced = replaced || o.substr(0, o.find('=')) == name;
        if (!replaced) out.emplace_back(entry);
    }
    out.insert(out.end(), overrides.begin(), overrides.end());
    return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

enum class child_stdout { capture, to_stderr };

// posix_spawn's file actions and attributes, released on every path out.
class spawn_setup {
public:
    spawn_setup() {
        posix_spawn_file_actions_init(&actions_);
        posix_spawnattr_init(&attr_);
    }
    ~spawn_setup() {
        posix_spawn_file_actions_destroy(&actions_);
        posix_spawnattr_destroy(&attr_);
    }
    spawn_setup(const spawn_setup&) = delete;
    spawn_setup& operator=(const spawn_setup&) = delete;

    posix_spawn_file_actions_t* actions() noexcept { return &actions_; }
    posix_spawnattr_t* attr() noexcept { return &attr_; }

private:
    posix_spawn_file_actions_t actions_{};
    posix_spawnattr_t attr_{};
};

class fd_guard {
public:
    explicit fd_guard(int fd = -1) noexcept : fd_(fd) {}
    ~fd_guard() { reset(); }
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    int get() const noexcept { return fd_; }
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_;
};

// Starts `program` with `args` (argv[0] included) directly, no shell, and
// waits for it; its stdout captured or sent to our stderr, its stderr ours.
peer_result spawn_and_wait(const std::string& program, std::vector<std::string> args,
                           std::vector<std::string> env, const std::string& cwd, child_stdout out) {
    spawn_setup setup;
    int pipe_fds[2] = {-1, -1};
    if (out == child_stdout::capture) {
        if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
            throw std::runtime_error(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
        }
    }
    fd_guard read_end(pipe_fds[0]);
    fd_guard write_end(pipe_fds[1]);
    // dup2 clears close-on-exec on the target, so only stdout survives the exec.
    const int stdout_source = out == child_stdout::capture ? write_end.get() : STDERR_FILENO;
    posix_spawn_file_actions_adddup2(setup.actions(), stdout_source, STDOUT_FILENO);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(setup.actions(), cwd.c_str());

    // prove blocks SIGPIPE and catches SIGINT/SIGTERM; the child starts clean.
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(setup.attr(), &none);
    posix_spawnattr_setsigdefault(setup.attr(), &defaults);
    posix_spawnattr_setflags(setup.attr(), POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    const std::vector<char*> argv = c_strings(args);
    const std::vector<char*> envp = c_strings(env);
    pid_t pid = 0;
    if (const int err =
            posix_spawn(&pid, program.c_str(), setup.actions(), setup.attr(), argv.data(), envp.data());
        err != 0) {
        throw std::runtime_error(fmt::format("cannot start {}: {}", program, std::strerror(err)));
    }
    write_end.reset();  // EOF on the read end once the child is gone

    peer_result result;
    if (out == child_stdout::capture) {
        char buffer[4096];
        for (;;) {
            const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
            if (n > 0) {
                result.output.append(buffer, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                break;  // EOF, or an error: what was read is all there is
            }
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            throw std::runtime_error(fmt::format("waiting for {}: {}", program, std::strerror(errno)));
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

}  // namespace

go_peer locate_go_peer(const config::config& cfg, const std::string& explicit_path) {
    const config::workload_config& w = cfg.workloads.front();
    if (w.kind == config::workload_kind::cpu) {
        throw usage_error("--against-go: the Go peer runs sleep, yield, ring and spawn_tree, not cpu");
    }
    if ((w.kind == config::workload_kind::sleep && w.sleep.work.count() != 0) ||
        (w.kind == config::workload_kind::yield && w.yield.work.count() != 0)) {
        throw usage_error(fmt::format(
            "--against-go: the Go peer does no busy work; workloads[0].work must be 0s, got {}",
            config::format_duration(w.kind == config::workload_kind::sleep ? w.sleep.work : w.yield.work)));
    }
    if (cfg.latency.sample_every != 1) {
        throw usage_error(
            fmt::format("--against-go: the Go peer records the latency of every resume; latency.sample_every "
                        "must be 1, got {}",
                        cfg.latency.sample_every));
    }

    go_peer peer;
    if (!explicit_path.empty()) {
        std::error_code ec;
        if (!fs::is_regular_file(explicit_path, ec) || ::access(explicit_path.c_str(), X_OK) != 0) {
            throw usage_error(
                fmt::format("--go-peer: must be an executable file, got \"{}\"", explicit_path));
        }
        peer.binary = explicit_path;
        return peer;
    }
    peer.go = find_in_path("go");
    if (peer.go.empty()) {
        throw usage_error(
            fmt::format("--against-go: no `go` in PATH to build the Go peer; {}", install_hint));
    }
    peer.source_dir = COROSTORM_GO_PEER_SOURCE_DIR;
    std::error_code ec;
    if (!fs::is_regular_file(fs::path(peer.source_dir) / "go.mod", ec)) {
        throw usage_error(fmt::format(
            "--against-go: the Go peer's sources are not at {} (this corostorm was built elsewhere); pass "
            "--go-peer PATH to a peer built with `go build` in bench/peers/go",
            peer.source_dir));
    }
    const std::string root = cache_root();
    if (root.empty()) {
        throw usage_error(
            "--against-go: neither XDG_CACHE_HOME nor HOME is set, so there is no cache directory "
            "to build the Go peer in; set one, or pass --go-peer PATH");
    }
    peer.cache_dir = (fs::path(root) / "go-peer").string();
    peer.binary = (fs::path(peer.cache_dir) / "corostorm-go-peer").string();
    return peer;
}

void build_go_peer(const go_peer& peer) {
    if (peer.go.empty()) return;  // given as a binary
    std::error_code ec;
    fs::create_directories(peer.cache_dir, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot create {}: {}", peer.cache_dir, ec.message()));
    const fs::path cache(peer.cache_dir);
    std::vector<std::string> overrides{
        "GOFLAGS=-mod=mod",
        "GOPROXY=off",        // standard library only: nothing to download, and nothing may be
        "GOTOOLCHAIN=local",  // never fetch another toolchain (Go 1.21 and later)
        "GOWORK=off",        "CGO_ENABLED=0",
    };
    // The user's build cache and GOPATH when set (a warm cache builds in a second), else ours.
    if (env_or_empty("GOCACHE").empty()) overrides.push_back("GOCACHE=" + (cache / "go-build").string());
    if (env_or_empty("GOPATH").empty()) overrides.push_back("GOPATH=" + (cache / "gopath").string());
    std::vector<std::string> env = environment_with(overrides);
    // The version and revision of this corostorm: the peer's build_info says the same.
    const std::string ldflags = std::string("-X main.version=") + COROSTORM_VERSION +
                                " -X main.revision=" + metrics::build_revision();
    const peer_result r =
        spawn_and_wait(peer.go, {"go", "build", "-trimpath", "-ldflags", ldflags, "-o", peer.binary, "."},
                       std::move(env), peer.source_dir, child_stdout::to_stderr);
    if (r.exit_code != 0) {
        throw std::runtime_error(fmt::format("building the Go peer in {} failed (go build exited {})",
                                             peer.source_dir, r.exit_code));
    }
}

std::vector<std::string> go_peer_prove_args(const config::workload_config& w, std::uint64_t tasks,
                                            unsigned threads, config::duration limit) {
    std::vector<std::string> args{"corostorm-go-peer",
                                  "--prove",
                                  "--json",
                                  "--tasks",
                                  std::to_string(tasks),
                                  "--workload",
                                  std::string(config::to_string(w.kind)),
                                  "--threads",
                                  std::to_string(threads),
                                  "--duration",
                                  config::format_duration(limit)};
    const auto add = [&args](std::string flag, std::string value) {
        args.push_back(std::move(flag));
        args.push_back(std::move(value));
    };
    switch (w.kind) {
        case config::workload_kind::sleep:
            add("--period", config::format_duration(w.sleep.period));
            add("--rounds", std::to_string(w.sleep.rounds));
            break;
        case config::workload_kind::yield:
            add("--rounds", std::to_string(w.yield.rounds));
            break;
        case config::workload_kind::ring:
            add("--ring-size", std::to_string(w.ring.ring_size));
            break;
        case config::workload_kind::spawn_tree:
            add("--fanout", std::to_string(w.spawn_tree.fanout));
            add("--depth", std::to_string(w.spawn_tree.depth));
            break;
        case config::workload_kind::echo:
            add("--period", config::format_duration(w.echo.period));
            add("--message", std::to_string(w.echo.message));
            break;
        case config::workload_kind::rpc:
            add("--period", config::format_duration(w.rpc.period));
            add("--message", std::to_string(w.rpc.message));
            add("--connections", std::to_string(w.rpc.connections));
            break;
        case config::workload_kind::cpu:
            break;  // refused by locate_go_peer
    }
    return args;
}

peer_result run_go_peer(const go_peer& peer, const std::vector<std::string>& args) {
    return spawn_and_wait(peer.binary, args, environment_with({}), {}, child_stdout::capture);
}

}  // namespace corostorm::prove
