// corostorm configuration: the typed, validated form of the YAML file.
//
// Design note. The YAML file (plus --set overrides) is parsed once into a
// `config` value; nothing downstream ever sees YAML. Every default lives in the
// member initialisers below and in `default_stages()` / `default_workloads()`;
// `config/corostorm.yaml` documents the same values and a test keeps the two
// equal. Loading never half-succeeds: it returns a complete, valid `config` or
// throws `config_error` whose message names the key path, the bad value and
// what is allowed, e.g.
//   runtime.threads: must be between 0 and 1024, got 5000
// Thread-safety: plain values; loading has no global state.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace corostorm::config {

// Thrown for every invalid input. what() is the whole user-facing message.
class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

using duration = std::chrono::nanoseconds;

struct server_config {
    std::string listen = "0.0.0.0:9464";  // as written; host and port below
    std::string host = "0.0.0.0";         // IPv4 or IPv6 literal (IPv6 written as [::1]:9464)
    std::uint16_t port = 9464;            // 0 = let the kernel choose (tests)

    bool operator==(const server_config&) const = default;
};

enum class log_level { trace, debug, info, warn, error, critical, off };
enum class log_format { text, json };
// Every value of each enum in this header, in the order the error messages and
// the help list them; to_string (below) holds each value's one spelling.
inline constexpr std::array all_log_levels{log_level::trace, log_level::debug, log_level::info,
                                           log_level::warn,  log_level::error, log_level::critical,
                                           log_level::off};
inline constexpr std::array all_log_formats{log_format::text, log_format::json};

struct log_config {
    log_level level = log_level::info;
    log_format format = log_format::text;

    bool operator==(const log_config&) const = default;
};

// lean: corostorm's own minimal task type; asio: asio::awaitable + co_spawn.
enum class engine_kind { lean, asio };
inline constexpr std::array all_engine_kinds{engine_kind::lean, engine_kind::asio};
// per_thread: one io_context per worker thread; shared: one io_context run by all.
enum class layout_kind { per_thread, shared };
inline constexpr std::array all_layout_kinds{layout_kind::per_thread, layout_kind::shared};
// How a lean task handed a message or a join is run. next: as soon as the
// task that woke it suspends (a next slot, bounded); fifo: behind every task
// already runnable on its worker.
enum class hand_off_kind { next, fifo };
inline constexpr std::array all_hand_off_kinds{hand_off_kind::next, hand_off_kind::fifo};
// How asio-engine tasks are written (runtime.asio; docs/configuration.md).
// any: any_io_executor everywhere; typed: io_context::executor_type.
enum class asio_executor_kind { any, typed };
inline constexpr std::array all_asio_executor_kinds{asio_executor_kind::any, asio_executor_kind::typed};
// The operations of timer waits and posts. recycling: Asio's per-thread
// cache, then the heap; worker: the worker's slab (per_thread layout only).
enum class asio_allocator_kind { recycling, worker };
inline constexpr std::array all_asio_allocator_kinds{asio_allocator_kind::recycling, asio_allocator_kind::worker};
// The completion token of waits and posts: use_awaitable, or deferred (the
// task's own frame awaits the operation; recycling allocator only).
enum class asio_token_kind { use_awaitable, deferred };
inline constexpr std::array all_asio_token_kinds{asio_token_kind::use_awaitable, asio_token_kind::deferred};

struct asio_config {
    asio_executor_kind executor = asio_executor_kind::any;
    asio_allocator_kind allocator = asio_allocator_kind::recycling;
    asio_token_kind token = asio_token_kind::use_awaitable;

    bool operator==(const asio_config&) const = default;
};

struct runtime_config {
    unsigned threads = 0;  // 0 = CPUs available to the process (affinity and cgroup quota)
    engine_kind engine = engine_kind::lean;
    layout_kind layout = layout_kind::per_thread;
    hand_off_kind hand_off = hand_off_kind::next;
    duration timer_tick = std::chrono::milliseconds(1);  // the lean timer wheel's resolution
    asio_config asio;                                    // asio engine only

    bool operator==(const runtime_config&) const = default;
};

enum class memory_limit_kind { automatic, none, bytes };

struct memory_config {
    memory_limit_kind limit = memory_limit_kind::automatic;
    std::uint64_t limit_bytes = 0;  // meaningful when limit == bytes
    // Headroom is either a fraction of the limit or an absolute size.
    double headroom_fraction = 0.10;  // used when headroom_bytes is empty
    std::optional<std::uint64_t> headroom_bytes;

    bool operator==(const memory_config&) const = default;
};

struct latency_config {
    std::uint64_t sample_every = 1;  // record 1 in N resumes, 1..1'000'000

    bool operator==(const latency_config&) const = default;
};

struct stage_config {
    std::string name;
    std::optional<std::uint64_t> tasks;  // empty = keep the previous stage's target
    duration over{};                     // ramp (and stage) length

    bool operator==(const stage_config&) const = default;
};

struct scenario_config {
    bool repeat = false;
    std::vector<stage_config> stages;

    bool operator==(const scenario_config&) const = default;
};

enum class workload_kind { sleep, yield, ring, spawn_tree, cpu, echo, rpc };
inline constexpr std::array all_workload_kinds{
    workload_kind::sleep, workload_kind::yield, workload_kind::ring, workload_kind::spawn_tree,
    workload_kind::cpu,   workload_kind::echo,  workload_kind::rpc};

// Each kind's parameters, with their defaults and the ranges loading enforces. A
// workload_config carries all seven sets; only the one of its `kind` is read from YAML,
// written by to_yaml and meaningful, the others keep their defaults.
struct sleep_params {                           // kind: sleep
    duration period = std::chrono::seconds(1);  // 1ms .. 1d
    std::uint64_t rounds = 0;                   // wake-ups before the task ends; 0 = forever
    duration work{0};                           // busy CPU work per wake-up, 0 .. 1s

    bool operator==(const sleep_params&) const = default;
};

struct yield_params {          // kind: yield
    std::uint64_t rounds = 0;  // yields before the task ends; 0 = forever; 0 .. 1000G
    duration work{0};          // busy work between yields, 0 .. 1s

    bool operator==(const yield_params&) const = default;
};

struct ring_params {                // kind: ring
    std::uint64_t ring_size = 100;  // tasks per ring, 2 .. 1M

    bool operator==(const ring_params&) const = default;
};

struct spawn_tree_params {      // kind: spawn_tree
    std::uint64_t fanout = 10;  // children per task, 1 .. 1000
    std::uint64_t depth = 6;    // levels below the root, 1 .. 20
    // The tree holds 1 + fanout + ... + fanout^depth tasks, at most 1G (1e9).

    bool operator==(const spawn_tree_params&) const = default;
};

struct cpu_params {                                   // kind: cpu
    duration slice = std::chrono::microseconds(100);  // compute between yields, 1us .. 1s
    std::uint64_t rounds = 0;                         // slices before the task ends; 0 = forever; 0 .. 1000G

    bool operator==(const cpu_params&) const = default;
};

struct echo_params {                             // kind: echo
    duration period = std::chrono::seconds(10);  // 1ms .. 1d: one message per connection per period
    std::uint64_t message = 64;                  // bytes per message, 1 .. 65536 (64KiB)

    bool operator==(const echo_params&) const = default;
};

struct rpc_params {                             // kind: rpc
    duration period = std::chrono::seconds(1);  // 1ms .. 1d: one call per caller per period
    // Bytes per request (and reply), 16 .. 65536: 8 B caller id + 8 B send time + payload.
    std::uint64_t message = 64;
    // Shared loopback connections, 1 .. 1024 (split across workers, at least one per worker).
    std::uint64_t connections = 16;

    bool operator==(const rpc_params&) const = default;
};

struct workload_config {
    std::string name;
    workload_kind kind = workload_kind::sleep;
    double weight = 1.0;
    sleep_params sleep;
    yield_params yield;
    ring_params ring;
    spawn_tree_params spawn_tree;
    cpu_params cpu;
    echo_params echo;
    rpc_params rpc;

    bool operator==(const workload_config&) const = default;
};

struct config {
    server_config server;
    log_config log;
    runtime_config runtime;
    memory_config memory;
    latency_config latency;
    scenario_config scenario;
    std::vector<workload_config> workloads;

    bool operator==(const config&) const = default;
};

// The defaults every missing key takes.
std::vector<stage_config> default_stages();
std::vector<workload_config> default_workloads();
config defaults();

// One `--set` override: a key path (`runtime.threads`, `scenario.stages[0].tasks`)
// and a value written as YAML (`1`, `5M`, `[a, b]`, `{name: x, kind: sleep}`).
struct override_entry {
    std::string path;
    std::string value;
};
// Splits "KEY=VALUE"; throws config_error when there is no '=' or the key is empty.
override_entry parse_override(std::string_view key_equals_value);

// Parse, apply overrides, validate. `origin` names the source in messages
// (the file path, or "<string>").
config load_string(std::string_view yaml_text, const std::vector<override_entry>& overrides = {},
                   std::string_view origin = "<string>");
config load_file(const std::string& path, const std::vector<override_entry>& overrides = {});
// A path as messages and logs show it: as given, or quoted with escapes when it holds a
// control character or bytes that are not UTF-8 (a newline in a file name would
// otherwise start a forged log line).
std::string shown_path(std::string_view path);
// Defaults plus overrides, no file.
config load_defaults(const std::vector<override_entry>& overrides = {});

// The effective configuration as YAML, every key present, units written the
// way a user would (1M, 250ms, 8GiB), such that load_string(to_yaml(c)) == c.
std::string to_yaml(const config& c);

// Unit parsing, shared with the command line. Each returns nullopt on any
// malformed input (no partial parses, no overflow wrap-around).
std::optional<std::uint64_t> parse_count(std::string_view text);  // 1000, 1k, 1M, 10M, 2G
std::optional<duration> parse_duration(std::string_view text);    // 250ms, 30s, 5m, 1h, 500us, 1d
std::optional<std::uint64_t> parse_size(std::string_view text);   // 512MiB, 8GiB, 1000, 64B, 1KB
std::optional<double> parse_percent(std::string_view text);       // 10% -> 0.10

std::string format_count(std::uint64_t n);
std::string format_duration(duration d);
std::string format_size(std::uint64_t bytes);

// memory.limit as the config writes it: auto, none or a size (format_size).
std::string memory_limit_text(const memory_config& m);

std::string_view to_string(log_level v);
std::string_view to_string(log_format v);
std::string_view to_string(engine_kind v);
std::string_view to_string(layout_kind v);
std::string_view to_string(hand_off_kind v);
std::string_view to_string(asio_executor_kind v);
std::string_view to_string(asio_allocator_kind v);
std::string_view to_string(asio_token_kind v);
std::string_view to_string(workload_kind v);

// "sleep, yield, ring": the names of `values` (one of the all_* arrays above), for
// help texts and the errors that list the allowed values.
template <class Enum, std::size_t N>
std::string names_of(const std::array<Enum, N>& values) {
    std::string out;
    for (const Enum v : values) {
        out += out.empty() ? "" : ", ";
        out += to_string(v);
    }
    return out;
}

}  // namespace corostorm::config
