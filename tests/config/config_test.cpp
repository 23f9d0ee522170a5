// Loading, --set overrides, to_yaml, and the messages bad configs get.
#include <gmock/gmock.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"

namespace corostorm::config {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// The message load_string throws for `yaml`, or "(no error)".
std::string error_of(const std::string& yaml, const std::vector<override_entry>& overrides = {}) {
    try {
        load_string(yaml, overrides);
    } catch (const config_error& e) {
        return e.what();
    }
    return "(no error)";
}

std::vector<override_entry> sets(std::initializer_list<const char*> texts) {
    std::vector<override_entry> out;
    for (const char* text : texts) {
        out.push_back(parse_override(text));
    }
    return out;
}

TEST(Defaults, an_empty_map_gives_the_documented_defaults) {
    const config c = load_string("{}");
    EXPECT_EQ(c, defaults());
    EXPECT_EQ(load_defaults(), defaults());

    EXPECT_EQ(c.server.listen, "0.0.0.0:9464");
    EXPECT_EQ(c.server.host, "0.0.0.0");
    EXPECT_EQ(c.server.port, 9464);
    EXPECT_EQ(c.log.level, log_level::info);
    EXPECT_EQ(c.log.format, log_format::text);
    EXPECT_EQ(c.runtime.threads, 0U);
    EXPECT_EQ(c.runtime.engine, engine_kind::lean);
    EXPECT_EQ(c.runtime.layout, layout_kind::per_thread);
    EXPECT_EQ(c.memory.limit, memory_limit_kind::automatic);
    EXPECT_EQ(c.memory.headroom_fraction, 0.10);
    EXPECT_EQ(c.memory.headroom_bytes, std::nullopt);
    EXPECT_EQ(c.latency.sample_every, 1U);
    EXPECT_FALSE(c.scenario.repeat);
    ASSERT_EQ(c.scenario.stages.size(), 3U);
    EXPECT_EQ(c.scenario.stages[0], (stage_config{"ramp", 1'000'000U, 30s}));
    EXPECT_EQ(c.scenario.stages[1], (stage_config{"hold", std::nullopt, 10min}));
    EXPECT_EQ(c.scenario.stages[2], (stage_config{"drain", 0U, 10s}));
    ASSERT_EQ(c.workloads.size(), 1U);
    EXPECT_EQ(c.workloads[0].name, "idle");
    EXPECT_EQ(c.workloads[0].kind, workload_kind::sleep);
    EXPECT_EQ(c.workloads[0].weight, 1.0);
    EXPECT_EQ(c.workloads[0].sleep, (sleep_params{1s, 0, 0s}));
}

TEST(Defaults, each_kind_has_the_documented_parameters) {
    const workload_config w;
    EXPECT_EQ(w.kind, workload_kind::sleep);
    EXPECT_EQ(w.sleep, (sleep_params{1s, 0, 0s}));
    EXPECT_EQ(w.yield, (yield_params{0, 0s}));
    EXPECT_EQ(w.ring, (ring_params{100}));
    EXPECT_EQ(w.spawn_tree, (spawn_tree_params{10, 6}));
    EXPECT_EQ(w.cpu, (cpu_params{100us, 0}));
    EXPECT_EQ(w.echo, (echo_params{10s, 64}));
    EXPECT_EQ(w.rpc, (rpc_params{1s, 64, 16}));
}

TEST(Defaults, the_shipped_config_file_documents_exactly_the_defaults) {
    EXPECT_EQ(load_file(COROSTORM_SHIPPED_CONFIG), defaults());
}

TEST(Defaults, the_commented_out_workloads_of_the_shipped_config_load_as_the_defaults_of_their_kinds) {
    std::ifstream in(COROSTORM_SHIPPED_CONFIG, std::ios::binary);
    std::string text;
    std::string line;
    while (std::getline(in, line)) {
        // An example workload's lines: "  # - name: ..." and "  #   key: ...".
        if (line.starts_with("  # -") || line.starts_with("  #   ")) {
            line.erase(2, 2);
        }
        text += line + "\n";
    }
    const config c = load_string(text);
    ASSERT_EQ(c.workloads.size(), 3U) << text;
    EXPECT_EQ(c.workloads[0], defaults().workloads[0]);
    EXPECT_EQ(c.workloads[1].name, "conns");
    EXPECT_EQ(c.workloads[1].kind, workload_kind::echo);
    EXPECT_EQ(c.workloads[1].echo, echo_params{});
    EXPECT_EQ(c.workloads[2].name, "calls");
    EXPECT_EQ(c.workloads[2].kind, workload_kind::rpc);
    EXPECT_EQ(c.workloads[2].rpc, rpc_params{});
}

TEST(Load, a_section_with_every_key_commented_out_is_empty) {
    EXPECT_EQ(load_string("runtime:\n  # threads: 4\nlog:\n"), defaults());
}

constexpr const char* full_yaml = R"(# every key, none at its default
server: { listen: "[::1]:8080" }
log: { level: debug, format: json }
runtime:
  threads: 8
  engine: asio
  layout: shared
  asio: { executor: typed, token: deferred }  # allocator worker needs per_thread and use_awaitable
memory:
  limit: 512MiB
  headroom: 12.5%
latency:
  sample_every: 1k
scenario:
  repeat: true
  stages:
    - { name: warm-up, tasks: 1.5M, over: 500ms }
    - { name: hold_1, over: 1h }
    - { name: v2.drain, tasks: 0, over: 0s }
workloads:
  - { name: idle, kind: sleep, weight: 3, period: 250ms, rounds: 10k, work: 20us }
  - { name: busy, weight: 0.5, period: 1ms }
  - { name: hop, kind: yield, weight: 2, rounds: 1M, work: 1ms }
  - { name: token, kind: ring, ring_size: 1k }
  - { name: skynet, kind: spawn_tree, fanout: 4, depth: 12 }
  - { name: crunch, kind: cpu, weight: 0.25, slice: 1ms, rounds: 500 }
  - { name: conns, kind: echo, weight: 2, period: 250ms, message: 1KiB }
  - { name: calls, kind: rpc, weight: 0.5, period: 10ms, message: 100B, connections: 64 }
)";

TEST(Load, a_full_file_sets_every_field) {
    const config c = load_string(full_yaml);
    EXPECT_EQ(c.server.listen, "[::1]:8080");
    EXPECT_EQ(c.server.host, "::1");
    EXPECT_EQ(c.server.port, 8080);
    EXPECT_EQ(c.log.level, log_level::debug);
    EXPECT_EQ(c.log.format, log_format::json);
    EXPECT_EQ(c.runtime.threads, 8U);
    EXPECT_EQ(c.runtime.engine, engine_kind::asio);
    EXPECT_EQ(c.runtime.layout, layout_kind::shared);
    EXPECT_EQ(c.runtime.asio.executor, asio_executor_kind::typed);
    EXPECT_EQ(c.runtime.asio.token, asio_token_kind::deferred);
    EXPECT_EQ(c.memory.limit, memory_limit_kind::bytes);
    EXPECT_EQ(c.memory.limit_bytes, 512ULL << 20U);
    EXPECT_EQ(c.memory.headroom_fraction, 0.125);
    EXPECT_EQ(c.latency.sample_every, 1000U);
    EXPECT_TRUE(c.scenario.repeat);
    ASSERT_EQ(c.scenario.stages.size(), 3U);
    EXPECT_EQ(c.scenario.stages[0], (stage_config{"warm-up", 1'500'000U, 500ms}));
    EXPECT_EQ(c.scenario.stages[1], (stage_config{"hold_1", std::nullopt, 1h}));
    EXPECT_EQ(c.scenario.stages[2], (stage_config{"v2.drain", 0U, 0s}));
    ASSERT_EQ(c.workloads.size(), 8U);
    EXPECT_EQ(c.workloads[0].name, "idle");
    EXPECT_EQ(c.workloads[0].weight, 3.0);
    EXPECT_EQ(c.workloads[0].sleep, (sleep_params{250ms, 10'000, 20us}));
    EXPECT_EQ(c.workloads[1].name, "busy");
    EXPECT_EQ(c.workloads[1].kind, workload_kind::sleep);
    EXPECT_EQ(c.workloads[1].weight, 0.5);
    EXPECT_EQ(c.workloads[1].sleep, (sleep_params{1ms, 0, 0s}));
    EXPECT_EQ(c.workloads[2].kind, workload_kind::yield);
    EXPECT_EQ(c.workloads[2].weight, 2.0);
    EXPECT_EQ(c.workloads[2].yield, (yield_params{1'000'000, 1ms}));
    EXPECT_EQ(c.workloads[3].kind, workload_kind::ring);
    EXPECT_EQ(c.workloads[3].weight, 1.0);
    EXPECT_EQ(c.workloads[3].ring, (ring_params{1000}));
    EXPECT_EQ(c.workloads[4].kind, workload_kind::spawn_tree);
    EXPECT_EQ(c.workloads[4].spawn_tree, (spawn_tree_params{4, 12}));
    EXPECT_EQ(c.workloads[5].kind, workload_kind::cpu);
    EXPECT_EQ(c.workloads[5].weight, 0.25);
    EXPECT_EQ(c.workloads[5].cpu, (cpu_params{1ms, 500}));
    EXPECT_EQ(c.workloads[6].kind, workload_kind::echo);
    EXPECT_EQ(c.workloads[6].weight, 2.0);
    EXPECT_EQ(c.workloads[6].echo, (echo_params{250ms, 1024}));
    EXPECT_EQ(c.workloads[7].kind, workload_kind::rpc);
    EXPECT_EQ(c.workloads[7].weight, 0.5);
    EXPECT_EQ(c.workloads[7].rpc, (rpc_params{10ms, 100, 64}));
    // The parameters of the other kinds keep their defaults.
    const workload_config fresh;
    for (const workload_config& w : c.workloads) {
        EXPECT_EQ(w.kind == workload_kind::sleep ? fresh.sleep : w.sleep, fresh.sleep) << w.name;
        EXPECT_EQ(w.kind == workload_kind::yield ? fresh.yield : w.yield, fresh.yield) << w.name;
        EXPECT_EQ(w.kind == workload_kind::ring ? fresh.ring : w.ring, fresh.ring) << w.name;
        EXPECT_EQ(w.kind == workload_kind::spawn_tree ? fresh.spawn_tree : w.spawn_tree, fresh.spawn_tree)
            << w.name;
        EXPECT_EQ(w.kind == workload_kind::cpu ? fresh.cpu : w.cpu, fresh.cpu) << w.name;
        EXPECT_EQ(w.kind == workload_kind::echo ? fresh.echo : w.echo, fresh.echo) << w.name;
        EXPECT_EQ(w.kind == workload_kind::rpc ? fresh.rpc : w.rpc, fresh.rpc) << w.name;
    }
}

TEST(Load, each_engine_and_layout_is_accepted) {
    EXPECT_EQ(load_string("runtime: {engine: lean}").runtime.engine, engine_kind::lean);
    EXPECT_EQ(load_string("runtime: {engine: asio}").runtime.engine, engine_kind::asio);
    EXPECT_EQ(load_string("runtime: {layout: per_thread}").runtime.layout, layout_kind::per_thread);
    EXPECT_EQ(load_string("runtime: {layout: shared}").runtime.layout, layout_kind::shared);
    const config c = load_string("runtime: {engine: asio, layout: shared}");
    EXPECT_EQ(c.runtime.engine, engine_kind::asio);
    EXPECT_EQ(c.runtime.layout, layout_kind::shared);
    EXPECT_EQ(c.runtime.threads, 0U);
    EXPECT_EQ(c.runtime.hand_off, hand_off_kind::next);
    EXPECT_EQ(load_string("runtime: {hand_off: fifo}").runtime.hand_off, hand_off_kind::fifo);
    EXPECT_EQ(load_string("runtime: {hand_off: next}").runtime.hand_off, hand_off_kind::next);
    EXPECT_EQ(c.runtime.timer_tick, 1ms);
    EXPECT_EQ(load_string("runtime: {timer_tick: 100us}").runtime.timer_tick, 100us);
    EXPECT_EQ(load_string("runtime: {timer_tick: 10us}").runtime.timer_tick, 10us);
    EXPECT_EQ(load_string("runtime: {timer_tick: 100ms}").runtime.timer_tick, 100ms);
}

TEST(Load, runtime_asio_options_read) {
    const config d = defaults();
    EXPECT_EQ(d.runtime.asio.executor, asio_executor_kind::any);
    EXPECT_EQ(d.runtime.asio.allocator, asio_allocator_kind::recycling);
    EXPECT_EQ(d.runtime.asio.token, asio_token_kind::use_awaitable);
    EXPECT_EQ(load_string("runtime: {asio: {token: deferred}}").runtime.asio.token,
              asio_token_kind::deferred);
    EXPECT_EQ(load_string("runtime: {asio: {allocator: worker, token: use_awaitable}}").runtime.asio.token,
              asio_token_kind::use_awaitable);
    EXPECT_EQ(
        error_of("runtime: {asio: {allocator: worker, token: deferred}}"),
        "runtime.asio.token: deferred goes with runtime.asio.allocator: recycling (Asio 1.26 cannot bind "
        R"(an allocator to deferred); use use_awaitable, got "deferred")");
    const config c = load_string("runtime: {engine: asio, asio: {executor: typed, allocator: worker}}");
    EXPECT_EQ(c.runtime.asio.executor, asio_executor_kind::typed);
    EXPECT_EQ(c.runtime.asio.allocator, asio_allocator_kind::worker);
    EXPECT_EQ(load_string("runtime: {asio: {executor: any}}").runtime.asio.executor, asio_executor_kind::any);
    EXPECT_EQ(load_string("runtime: {asio: {allocator: recycling}}").runtime.asio.allocator,
              asio_allocator_kind::recycling);
    EXPECT_EQ(load_string("runtime: {asio: {executor: typed}}").runtime.asio.allocator,
              asio_allocator_kind::recycling);
    EXPECT_EQ(load_string("runtime: {layout: shared, asio: {executor: typed}}").runtime.asio.executor,
              asio_executor_kind::typed);
    EXPECT_EQ(error_of("runtime: {layout: shared, asio: {allocator: worker}}"),
              "runtime.asio.allocator: worker needs runtime.layout: per_thread (the shared layout has no "
              "per-thread slab); use recycling");
    EXPECT_EQ(error_of("runtime: {asio: {executor: strand}}"),
              R"(runtime.asio.executor: must be one of any, typed, got "strand")");
    EXPECT_EQ(
        error_of("runtime: {asio: {executor: typed}}", sets({"runtime.asio.alocator=worker"})),
        R"(runtime.asio.alocator: unknown key; did you mean "allocator"? allowed: executor, allocator, token )"
        "(from --set runtime.asio.alocator=worker)");
    EXPECT_EQ(load_string("{}", sets({"runtime.asio.allocator=worker"})).runtime.asio.allocator,
              asio_allocator_kind::worker);
}

TEST(Load, a_workload_of_each_kind_takes_its_defaults_when_only_named) {
    const config c = load_string(R"(workloads:
  - { name: s }
  - { name: y, kind: yield }
  - { name: r, kind: ring }
  - { name: t, kind: spawn_tree }
  - { name: c, kind: cpu }
  - { name: e, kind: echo }
  - { name: p, kind: rpc }
)");
    ASSERT_EQ(c.workloads.size(), 7U);
    const workload_kind kinds[] = {workload_kind::sleep,      workload_kind::yield, workload_kind::ring,
                                   workload_kind::spawn_tree, workload_kind::cpu,   workload_kind::echo,
                                   workload_kind::rpc};
    for (std::size_t i = 0; i < 7; ++i) {
        workload_config expected;
        expected.name = c.workloads[i].name;
        expected.kind = kinds[i];
        EXPECT_EQ(c.workloads[i], expected) << i;
    }
}

// A workload named "w" of the kind the parameters belong to.
template <typename Params>
workload_config workload_w(workload_kind kind, Params workload_config::*member, Params params) {
    workload_config w;
    w.name = std::string("w");  // not operator=(const char*): g++ 12 warns falsely there (-Wrestrict)
    w.kind = kind;
    w.*member = params;
    return w;
}
workload_config sleeper(sleep_params p) {
    return workload_w(workload_kind::sleep, &workload_config::sleep, p);
}
workload_config yielder(yield_params p) {
    return workload_w(workload_kind::yield, &workload_config::yield, p);
}
workload_config ring(ring_params p) { return workload_w(workload_kind::ring, &workload_config::ring, p); }
workload_config tree(spawn_tree_params p) {
    return workload_w(workload_kind::spawn_tree, &workload_config::spawn_tree, p);
}
workload_config cruncher(cpu_params p) { return workload_w(workload_kind::cpu, &workload_config::cpu, p); }
workload_config echoer(echo_params p) { return workload_w(workload_kind::echo, &workload_config::echo, p); }
workload_config caller(rpc_params p) { return workload_w(workload_kind::rpc, &workload_config::rpc, p); }

TEST(Load, workload_parameters_accept_the_ends_of_their_ranges) {
    struct good_case {
        const char* yaml;
        workload_config expected;
    };
    constexpr std::uint64_t most_rounds = 1'000'000'000'000;
    const good_case cases[] = {
        {"{name: w, period: 1ms, rounds: 0, work: 0s}", sleeper({1ms, 0, 0s})},
        {"{name: w, kind: sleep, period: 1d, rounds: 1000G, work: 1s}", sleeper({24h, most_rounds, 1s})},
        {"{name: w, kind: yield, rounds: 0, work: 0s}", yielder({0, 0s})},
        {"{name: w, kind: yield, rounds: 1000G, work: 1s}", yielder({most_rounds, 1s})},
        {"{name: w, kind: yield, work: 1ns}", yielder({0, 1ns})},
        {"{name: w, kind: ring, ring_size: 2}", ring({2})},
        {"{name: w, kind: ring, ring_size: 1M}", ring({1'000'000})},
        {"{name: w, kind: spawn_tree, fanout: 1, depth: 1}", tree({1, 1})},
        // A chain: depth + 1 tasks.
        {"{name: w, kind: spawn_tree, fanout: 1, depth: 20}", tree({1, 20})},
        // 1 + 1000 + 1000^2 = 1,001,001 tasks.
        {"{name: w, kind: spawn_tree, fanout: 1k, depth: 2}", tree({1000, 2})},
        // 111,111,111 tasks, the largest power-of-ten tree under the limit.
        {"{name: w, kind: spawn_tree, fanout: 10, depth: 8}", tree({10, 8})},
        // A binary tree as deep as allowed: 2^21 - 1 = 2,097,151 tasks.
        {"{name: w, kind: spawn_tree, fanout: 2, depth: 20}", tree({2, 20})},
        // 1 + 31 + ... + 31^6 = 917,087,137 tasks, just under the limit (32 is over).
        {"{name: w, kind: spawn_tree, fanout: 31}", tree({31, 6})},
        {"{name: w, kind: cpu, slice: 1us, rounds: 0}", cruncher({1us, 0})},
        {"{name: w, kind: cpu, slice: 1s, rounds: 1000G}", cruncher({1s, most_rounds})},
        {"{name: w, kind: echo, period: 1ms, message: 1}", echoer({1ms, 1})},
        {"{name: w, kind: echo, period: 1d, message: 64KiB}", echoer({24h, 65536})},
        {"{name: w, kind: echo, message: 1B}", echoer({10s, 1})},
        {"{name: w, kind: echo, message: 65536}", echoer({10s, 65536})},
        {"{name: w, kind: echo, message: 1.5KiB}", echoer({10s, 1536})},
        {"{name: w, kind: echo, message: 64KB}", echoer({10s, 64'000})},
        {"{name: w, kind: rpc, period: 1ms, message: 16B, connections: 1}", caller({1ms, 16, 1})},
        {"{name: w, kind: rpc, period: 1d, message: 64KiB, connections: 1024}", caller({24h, 65536, 1024})},
        {"{name: w, kind: rpc, message: 16}", caller({1s, 16, 16})},
        {"{name: w, kind: rpc, connections: 1k}", caller({1s, 64, 1000})},
    };
    for (const good_case& c : cases) {
        const config loaded = load_string(std::string("workloads: [") + c.yaml + "]");
        ASSERT_EQ(loaded.workloads.size(), 1U) << c.yaml;
        EXPECT_EQ(loaded.workloads[0], c.expected) << c.yaml;
    }
}

TEST(Load, a_byte_order_mark_and_crlf_line_ends_are_accepted) {
    EXPECT_EQ(load_string("\xEF\xBB\xBFruntime:\r\n  threads: 2\r\n").runtime.threads, 2U);
}

TEST(Load, listen_accepts_ipv4_bracketed_ipv6_and_localhost) {
    struct listen_case {
        const char* yaml;
        const char* host;
        std::uint16_t port;
    };
    const listen_case cases[] = {
        {"server: {listen: '127.0.0.1:65535'}", "127.0.0.1", 65535},
        {"server: {listen: 'localhost:0'}", "127.0.0.1", 0},
        {"server: {listen: '[::]:9464'}", "::", 9464},
        {"server: {listen: '[2001:db8::1]:80'}", "2001:db8::1", 80},
    };
    for (const auto& c : cases) {
        const config loaded = load_string(c.yaml);
        EXPECT_EQ(loaded.server.host, c.host) << c.yaml;
        EXPECT_EQ(loaded.server.port, c.port) << c.yaml;
    }
}

TEST(Load, memory_accepts_none_and_headroom_as_a_size) {
    const config c = load_string("memory: {limit: none, headroom: 256MiB}");
    EXPECT_EQ(c.memory.limit, memory_limit_kind::none);
    EXPECT_EQ(c.memory.headroom_bytes, 256ULL << 20U);
}

TEST(Load, a_file_is_read_from_disk_with_its_path_in_messages) {
    const std::string path = ::testing::TempDir() + "corostorm_config_test.yaml";
    {
        std::ofstream out(path, std::ios::binary);
        out << "runtime: {threads: 3}\n";
    }
    EXPECT_EQ(load_file(path).runtime.threads, 3U);
    {
        std::ofstream out(path, std::ios::binary);
        out << "runtime: {threads: [\n";
    }
    try {
        load_file(path);
        FAIL() << "no error";
    } catch (const config_error& e) {
        EXPECT_THAT(e.what(), HasSubstr(path + ":2:1: invalid YAML"));
    }
    std::filesystem::remove(path);
}

TEST(Load, file_errors_name_the_path) {
    const auto message = [](const std::string& path) {
        try {
            load_file(path);
        } catch (const config_error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    EXPECT_EQ(message("/nonexistent/corostorm.yaml"),
              "/nonexistent/corostorm.yaml: cannot read config file: No such file or directory");
    EXPECT_EQ(message("/"), "/: is a directory, not a config file");
    EXPECT_EQ(message("/dev/zero"), "/dev/zero: config is larger than the 1 MiB limit");
}

// A newline in a file name would start a line of its own in the log: a forged entry.
TEST(Load, a_path_with_a_control_character_is_shown_escaped) {
    const std::string path = ::testing::TempDir() + "corostorm\n2026-01-01 info  forged.yaml";
    {
        std::ofstream out(path);
        out << "runtime: {threads: [\n";
    }
    try {
        load_file(path);
        ADD_FAILURE() << "no error";
    } catch (const config_error& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.find('\n'), std::string::npos) << what;
        EXPECT_THAT(what, HasSubstr("corostorm\\n2026-01-01 info  forged.yaml\":2:1: invalid YAML"));
    }
    EXPECT_EQ(shown_path("/etc/corostorm.yaml"), "/etc/corostorm.yaml");
    EXPECT_EQ(shown_path("a\x1b[2Jb"), "\"a\\x1b[2Jb\"");
    std::filesystem::remove(path);
}

TEST(Load, a_fifo_is_refused_at_once_not_waited_on) {
    // Opening a FIFO for reading blocks until a writer comes: check-config and
    // a SIGHUP reload would hang on one.
    const std::string path = ::testing::TempDir() + "corostorm-config.fifo";
    std::filesystem::remove(path);
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    try {
        load_file(path);
        ADD_FAILURE() << "no error";
    } catch (const config_error& e) {
        EXPECT_EQ(std::string(e.what()), path + ": is a FIFO, not a config file (give a regular file)");
    }
    std::filesystem::remove(path);
}

TEST(Load, a_file_of_exactly_one_mebibyte_is_accepted) {
    const std::string head = "{}\n";
    const std::string text = head + std::string((1U << 20U) - head.size(), '#');
    EXPECT_EQ(load_string(text), defaults());
    EXPECT_THAT(error_of(text + "#"), HasSubstr("larger than the 1 MiB limit"));
}

TEST(Load, deep_nesting_is_refused_without_exhausting_the_stack) {
    EXPECT_THAT(error_of("a: " + std::string(100'000, '[')), HasSubstr("invalid YAML: nested more than"));
    std::string block;
    for (std::size_t depth = 0; depth < 1000; ++depth) {
        block += std::string(depth, ' ') + "-\n";
    }
    EXPECT_THAT(error_of(block), HasSubstr("invalid YAML: nested more than"));
}

TEST(Load, a_ten_megabyte_file_is_refused_after_reading_past_the_limit_only) {
    const std::string path = ::testing::TempDir() + "corostorm_config_test_10mb.yaml";
    {
        std::ofstream out(path, std::ios::binary);
        const std::string line = "# " + std::string(1021, 'x') + "\n";
        for (int i = 0; i < 10 * 1024; ++i) {
            out << line;
        }
    }
    ASSERT_EQ(std::filesystem::file_size(path), 10U << 20U);
    try {
        load_file(path);
        ADD_FAILURE() << "no error";
    } catch (const config_error& e) {
        EXPECT_EQ(std::string(e.what()), path + ": config is larger than the 1 MiB limit");
    }
    std::filesystem::remove(path);
}

TEST(Load, nested_aliases_are_not_expanded) {
    // Ten lists, each of ten aliases of the one before: 10^10 items if expanded.
    std::string yaml = "workloads:\n  - &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int level = 1; level < 10; ++level) {
        yaml += "  - &a" + std::to_string(level) + " [";
        for (int i = 0; i < 10; ++i) {
            yaml += (i == 0 ? "*a" : ", *a") + std::to_string(level - 1);
        }
        yaml += "]\n";
    }
    EXPECT_EQ(error_of(yaml),
              "workloads[0]: must be a map with keys name, kind, weight, got a list of 10 items");
    // Where an alias is read, it is the node it names, once.
    EXPECT_EQ(error_of("scenario:\n  stages:\n    - &s {name: a, over: 1s}\n    - *s\n"),
              R"(scenario.stages[1].name: must be unique (scenario.stages[0].name is the same), got "a")");
    EXPECT_EQ(load_string("scenario:\n  stages:\n    - &s {name: a, over: 1s}\n    - {name: b, over: 1s}\n")
                  .scenario.stages.size(),
              2U);
}

TEST(Load, an_alias_that_contains_itself_is_refused) {
    EXPECT_EQ(error_of("runtime: &r {threads: *r}"),
              "runtime.threads: must be a count like 1000, 10k or 1M, got a map");
    EXPECT_EQ(error_of("workloads: &w [*w]"),
              "workloads[0]: must be a map with keys name, kind, weight, got a list of 1 item");
}

// yaml-cpp quotes the byte after a backslash as is; past the end of the text it reads
// its end-of-input marker, 0x04.
TEST(Load, a_yaml_message_never_carries_a_raw_byte) {
    EXPECT_EQ(error_of("a: \"b\\"), R"(<string>:1:8: invalid YAML: "unknown escape character: \x04")");
    EXPECT_EQ(error_of("{}", {{"runtime.threads", "\"b\\"}}),
              R"(--set runtime.threads="b\: the value is not valid YAML: "unknown escape character: \x04")");
}

// yaml-cpp 0.7 alone loops on these, adding empty documents until memory runs out.
TEST(Load, a_stray_comma_outside_a_collection_is_refused) {
    EXPECT_EQ(error_of(","), R"(<string>:1:1: invalid YAML: unexpected ",")");
    EXPECT_EQ(error_of(",r #aio, worslog\n"), R"(<string>:1:1: invalid YAML: unexpected ",")");
    EXPECT_EQ(error_of("{runtime: {}} ,"), R"(<string>:1:15: invalid YAML: unexpected ",")");
    EXPECT_EQ(error_of("runtime: {}\n...\n,\n"), R"(<string>:3:1: invalid YAML: unexpected ",")");
    // The mark counts from after a byte order mark.
    EXPECT_EQ(error_of("\xEF\xBB\xBF{} ,"), R"(<string>:1:4: invalid YAML: unexpected ",")");
    EXPECT_EQ(error_of("{}", {{"runtime.threads", "[1] ,"}}),
              R"(--set runtime.threads=[1] ,: the value is not valid YAML: unexpected ",")");
}

TEST(ParseOverride, splits_at_the_first_equals_sign) {
    const override_entry e = parse_override("a.b=x=1");
    EXPECT_EQ(e.path, "a.b");
    EXPECT_EQ(e.value, "x=1");
    EXPECT_EQ(parse_override("runtime.threads=").value, "");
}

TEST(ParseOverride, refuses_a_missing_equals_sign_or_key) {
    const auto message = [](const char* text) {
        try {
            parse_override(text);
        } catch (const config_error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    EXPECT_EQ(message("runtime.threads"), R"(--set: expected KEY=VALUE, got "runtime.threads")");
    EXPECT_EQ(message("=4"), R"(--set: expected KEY=VALUE, got "=4")");
}

TEST(Overrides, create_missing_sections_and_win_over_the_file) {
    EXPECT_EQ(load_string("{}", sets({"runtime.threads=4"})).runtime.threads, 4U);
    EXPECT_EQ(load_string("runtime: {threads: 2}", sets({"runtime.threads=8"})).runtime.threads, 8U);
    EXPECT_EQ(load_string("runtime:\n", sets({"runtime.threads=8"})).runtime.threads, 8U);
    EXPECT_EQ(load_defaults(sets({"runtime.threads=1", "runtime.threads=6"})).runtime.threads, 6U);
    const config c = load_defaults(sets({"memory.limit=8GiB", "log={level: warn}"}));
    EXPECT_EQ(c.memory.limit_bytes, 8ULL << 30U);
    EXPECT_EQ(c.log.level, log_level::warn);
}

TEST(Overrides, an_index_into_absent_lists_edits_the_defaults) {
    const config c = load_string("scenario: {repeat: true}",
                                 sets({"scenario.stages[0].tasks=5M", "workloads[0].period=250ms"}));
    EXPECT_TRUE(c.scenario.repeat);
    std::vector<stage_config> stages = default_stages();
    stages[0].tasks = 5'000'000;
    EXPECT_EQ(c.scenario.stages, stages);
    ASSERT_EQ(c.workloads.size(), 1U);
    EXPECT_EQ(c.workloads[0].name, "idle");
    EXPECT_EQ(c.workloads[0].sleep.period, 250ms);
}

TEST(Overrides, index_equal_to_the_size_appends_an_item) {
    const config c = load_defaults(sets(
        {"scenario.stages[3]={name: cool, over: 1s}", "workloads[1].name=extra", "workloads[1].weight=2"}));
    ASSERT_EQ(c.scenario.stages.size(), 4U);
    EXPECT_EQ(c.scenario.stages[3], (stage_config{"cool", std::nullopt, 1s}));
    ASSERT_EQ(c.workloads.size(), 2U);
    EXPECT_EQ(c.workloads[1].name, "extra");
    EXPECT_EQ(c.workloads[1].weight, 2.0);
}

constexpr const char* mixed_yaml = R"(workloads:
  - { name: idle, kind: sleep }
  - { name: token, kind: ring, ring_size: 10 }
)";

TEST(Overrides, set_the_parameters_of_each_kind) {
    const config c = load_string(
        mixed_yaml, sets({"workloads[1].ring_size=1000", "workloads[0].work=5us", "workloads[0].period=2s"}));
    ASSERT_EQ(c.workloads.size(), 2U);
    EXPECT_EQ(c.workloads[0].sleep, (sleep_params{2s, 0, 5us}));
    EXPECT_EQ(c.workloads[1].kind, workload_kind::ring);
    EXPECT_EQ(c.workloads[1].ring.ring_size, 1000U);
}

TEST(Overrides, a_workload_of_any_kind_can_be_appended) {
    const config c = load_string(
        mixed_yaml, sets({"workloads[2]={name: t, kind: spawn_tree, fanout: 4}", "workloads[2].depth=3",
                          "workloads[3]={name: c, kind: cpu, slice: 10us}", "workloads[4].name=y",
                          "workloads[4].kind=yield", "workloads[4].rounds=1k"}));
    ASSERT_EQ(c.workloads.size(), 5U);
    EXPECT_EQ(c.workloads[2].name, "t");
    EXPECT_EQ(c.workloads[2].kind, workload_kind::spawn_tree);
    EXPECT_EQ(c.workloads[2].spawn_tree, (spawn_tree_params{4, 3}));
    EXPECT_EQ(c.workloads[3].kind, workload_kind::cpu);
    EXPECT_EQ(c.workloads[3].cpu, (cpu_params{10us, 0}));
    EXPECT_EQ(c.workloads[4].kind, workload_kind::yield);
    EXPECT_EQ(c.workloads[4].yield, (yield_params{1000, 0s}));
}

TEST(Overrides, the_kind_of_a_default_workload_can_be_changed) {
    // The default workload is filled in without its sleep parameters, which a ring
    // workload would refuse; a parameter set away from its default stays and is refused.
    const config c = load_defaults(sets({"workloads[0].kind=ring", "workloads[0].ring_size=50"}));
    ASSERT_EQ(c.workloads.size(), 1U);
    EXPECT_EQ(c.workloads[0].name, "idle");
    EXPECT_EQ(c.workloads[0].kind, workload_kind::ring);
    EXPECT_EQ(c.workloads[0].ring.ring_size, 50U);
    EXPECT_EQ(load_defaults(sets({"workloads[0].kind=cpu"})).workloads[0].cpu, cpu_params{});
    EXPECT_EQ(error_of("{}", sets({"workloads[0].period=2s", "workloads[0].kind=cpu"})),
              "workloads[0].period: not a parameter of kind cpu (it belongs to sleep, echo, rpc); allowed: "
              "slice, rounds (from --set workloads[0].period=2s)");
}

TEST(Overrides, echo_and_rpc_workloads_can_be_appended_and_set) {
    const config c =
        load_string(mixed_yaml, sets({"workloads[2]={name: e, kind: echo}", "workloads[2].message=4KiB",
                                      "workloads[3]={name: p, kind: rpc, period: 5ms}",
                                      "workloads[3].connections=2", "workloads[3].message=16"}));
    ASSERT_EQ(c.workloads.size(), 4U);
    EXPECT_EQ(c.workloads[2].kind, workload_kind::echo);
    EXPECT_EQ(c.workloads[2].echo, (echo_params{10s, 4096}));
    EXPECT_EQ(c.workloads[3].kind, workload_kind::rpc);
    EXPECT_EQ(c.workloads[3].rpc, (rpc_params{5ms, 16, 2}));
    // The default sleeper's period is at its default, so it is not carried over to the new kind.
    EXPECT_EQ(load_defaults(sets({"workloads[0].kind=rpc"})).workloads[0].rpc, rpc_params{});
    EXPECT_EQ(load_defaults(sets({"workloads[0].kind=echo", "workloads[0].period=1m"})).workloads[0].echo,
              (echo_params{1min, 64}));
    EXPECT_EQ(error_of("{}", sets({"workloads[0].kind=echo", "workloads[0].connections=4"})),
              "workloads[0].connections: not a parameter of kind echo (it belongs to rpc); allowed: period, "
              "message (from --set workloads[0].connections=4)");
    EXPECT_EQ(error_of("{}", sets({"workloads[1]={name: p, kind: rpc}", "workloads[1].message=8B"})),
              "workloads[1].message: must be between 16B and 64KiB, got 8B (from --set "
              "workloads[1].message=8B)");
}

TEST(Overrides, a_parameter_of_another_kind_is_refused) {
    EXPECT_EQ(error_of(mixed_yaml, sets({"workloads[0].ring_size=1000"})),
              "workloads[0].ring_size: not a parameter of kind sleep (it belongs to ring); allowed: period, "
              "rounds, work (from --set workloads[0].ring_size=1000)");
    EXPECT_EQ(
        error_of(mixed_yaml, sets({"workloads[1].ring_size=1"})),
        "workloads[1].ring_size: must be between 2 and 1M, got 1 (from --set workloads[1].ring_size=1)");
    EXPECT_EQ(error_of(mixed_yaml, sets({"workloads[2]={name: t, kind: spawn_tree, fanout: 100}"})),
              "workloads[2].fanout: a tree of fanout 100 and depth 6 has 1010101010101 tasks, more than the "
              "limit of 1G; lower the depth or the fanout (from --set workloads[2]={name: t, kind: "
              "spawn_tree, fanout: 100})");
}

TEST(Overrides, a_whole_list_can_be_replaced) {
    const config c = load_string(full_yaml, sets({"workloads=[{name: a}, {name: b, weight: 2}]"}));
    ASSERT_EQ(c.workloads.size(), 2U);
    EXPECT_EQ(c.workloads[0].name, "a");
    EXPECT_EQ(c.workloads[1].weight, 2.0);
}

TEST(Overrides, errors_say_they_came_from_set) {
    EXPECT_EQ(error_of("{}", sets({"runtime.threads=5000"})),
              "runtime.threads: must be between 0 and 1024, got 5000 (from --set "
              "runtime.threads=5000)");
    EXPECT_EQ(error_of("{}", sets({"runtime.thread=4"})),
              R"(runtime.thread: unknown key; did you mean "threads"? allowed: threads, engine, )"
              "layout, hand_off, timer_tick, asio (from --set runtime.thread=4)");
    EXPECT_EQ(error_of("{}", sets({"scenario.stages[1]={name: ramp, over: 1s}"})),
              R"(scenario.stages[1].name: must be unique (scenario.stages[0].name is the same), )"
              R"(got "ramp" (from --set scenario.stages[1]={name: ramp, over: 1s}))");
    EXPECT_EQ(error_of("{}", sets({"scenario.stages[5].tasks=1"})),
              "scenario.stages[5]: is past the end of a list of 3 items; index 3 appends one "
              "(from --set scenario.stages[5].tasks=1)");
    EXPECT_EQ(error_of("{}", sets({"scenario.stages[3]=5"})),
              "scenario.stages[3]: a new list item must be a map like {name: x, ...}, got 5 "
              "(from --set scenario.stages[3]=5)");
    EXPECT_EQ(error_of("runtime: 4", sets({"runtime.threads=1"})),
              "runtime: must be a map to set runtime.threads, got 4 (from --set "
              "runtime.threads=1)");
    EXPECT_EQ(error_of("{}", sets({"workloads.name=x"})),
              "workloads: must be a map to set workloads.name, got a list of 1 item (from --set "
              "workloads.name=x)");
    // A bad value in the file is not blamed on an unrelated override.
    EXPECT_EQ(error_of("log: {level: loud}", sets({"runtime.threads=1"})),
              R"(log.level: must be one of trace, debug, info, warn, error, critical, off, )"
              R"(got "loud")");
}

TEST(Overrides, a_malformed_path_or_value_is_refused) {
    const char* const bad_paths[] = {"a..b=1", ".a=1", "a.=1",    "[0]=1",  "a[x]=1",
                                     "a[1=1",  "a]=1", "a[0]b=1", "a[-1]=1"};
    for (const char* text : bad_paths) {
        EXPECT_THAT(error_of("{}", sets({text})), HasSubstr(": bad key path;")) << text;
    }
    EXPECT_THAT(error_of("{}", sets({"runtime.threads=[1"})),
                HasSubstr("--set runtime.threads=[1: the value is not valid YAML: "));
    EXPECT_THAT(error_of("{}", {{"runtime.threads", "\xff"}}),
                HasSubstr("--set: invalid UTF-8 at byte offset 16"));
}

TEST(Overrides, change_only_their_own_key_when_the_file_shares_a_node) {
    // Both stages name one node; the override edits the first stage only.
    const std::string yaml =
        "scenario:\n  stages:\n    - {name: a, over: &t 1s}\n    - {name: b, over: *t}\n";
    const config c = load_string(yaml, sets({"scenario.stages[0].over=5s"}));
    EXPECT_EQ(c.scenario.stages[0].over, 5s);
    EXPECT_EQ(c.scenario.stages[1].over, 1s);
    // Two sections as one empty map: editing one must not give the other its key.
    EXPECT_EQ(load_string("log: &empty {}\nlatency: *empty\n", sets({"log.level=debug"})).log.level,
              log_level::debug);
    // A map that contains itself: the override replaces the inner alias, not the map.
    EXPECT_EQ(load_string("runtime: &r {threads: *r}", sets({"runtime.threads=2"})).runtime.threads, 2U);
}

TEST(Overrides, a_value_of_several_documents_or_too_deep_is_refused) {
    EXPECT_EQ(error_of("{}", {{"runtime.threads", "1\n---\n2"}}),
              R"(--set "runtime.threads=1\n---\n2": the value holds 2 YAML documents; write one value)");
    EXPECT_THAT(error_of("{}", {{"runtime.threads", std::string(100'000, '[')}}),
                HasSubstr("(100016 bytes): the value is nested more than "));
}

TEST(Overrides, the_echoed_argument_is_escaped_and_cut_short) {
    // A newline typed into --set stays on the message's one line.
    EXPECT_EQ(error_of("{}", {{"runtime.threads", "1\nx"}}),
              R"(runtime.threads: must be a count like 1000, 10k or 1M, got "1 x" (from --set )"
              R"("runtime.threads=1\nx"))");
    const std::string message = error_of("{}", {{"runtime.threads", std::string(5000, '9')}});
    EXPECT_THAT(message, HasSubstr("(from --set \"runtime.threads=999"));
    EXPECT_THAT(message, HasSubstr("...\" (5016 bytes))"));
    EXPECT_LT(message.size(), 400U);
    // A key of the path that is not a plain word is quoted, in the path and in the message.
    EXPECT_EQ(
        error_of("{}", sets({"runtime.a b=1"})),
        R"(runtime."a b": unknown key; allowed: threads, engine, layout, hand_off, timer_tick, asio (from --set runtime.a b=1))");
}

TEST(ToYaml, defaults_are_written_in_full_with_human_units) {
    EXPECT_EQ(to_yaml(defaults()), R"(server:
  listen: 0.0.0.0:9464
log:
  level: info
  format: text
runtime:
  threads: 0
  engine: lean
  layout: per_thread
  hand_off: next
  timer_tick: 1ms
  asio:
    executor: any
    allocator: recycling
    token: use_awaitable
memory:
  limit: auto
  headroom: 10%
latency:
  sample_every: 1
scenario:
  repeat: false
  stages:
    - name: ramp
      tasks: 1M
      over: 30s
    - name: hold
      over: 10m
    - name: drain
      tasks: 0
      over: 10s
workloads:
  - name: idle
    kind: sleep
    weight: 1
    period: 1s
    rounds: 0
    work: 0s
)");
}

TEST(ToYaml, each_workload_is_written_with_exactly_the_parameters_of_its_kind) {
    const std::string yaml = to_yaml(load_string(R"(workloads:
  - { name: y, kind: yield }
  - { name: r, kind: ring, ring_size: 5 }
  - { name: t, kind: spawn_tree, depth: 2 }
  - { name: c, kind: cpu }
  - { name: e, kind: echo, message: 100 }
  - { name: p, kind: rpc, period: 20ms }
)"));
    EXPECT_THAT(yaml, HasSubstr(R"(workloads:
  - name: y
    kind: yield
    weight: 1
    rounds: 0
    work: 0s
  - name: r
    kind: ring
    weight: 1
    ring_size: 5
  - name: t
    kind: spawn_tree
    weight: 1
    fanout: 10
    depth: 2
  - name: c
    kind: cpu
    weight: 1
    slice: 100us
    rounds: 0
  - name: e
    kind: echo
    weight: 1
    period: 10s
    message: 100B
  - name: p
    kind: rpc
    weight: 1
    period: 20ms
    message: 64B
    connections: 16
)")) << yaml;
}

TEST(ToYaml, engines_layouts_and_workload_kinds_have_their_yaml_names) {
    EXPECT_EQ(to_string(engine_kind::lean), "lean");
    EXPECT_EQ(to_string(engine_kind::asio), "asio");
    EXPECT_EQ(to_string(layout_kind::per_thread), "per_thread");
    EXPECT_EQ(to_string(layout_kind::shared), "shared");
    EXPECT_EQ(to_string(hand_off_kind::next), "next");
    EXPECT_EQ(to_string(hand_off_kind::fifo), "fifo");
    EXPECT_EQ(to_string(asio_executor_kind::any), "any");
    EXPECT_EQ(to_string(asio_executor_kind::typed), "typed");
    EXPECT_EQ(to_string(asio_allocator_kind::recycling), "recycling");
    EXPECT_EQ(to_string(asio_allocator_kind::worker), "worker");
    EXPECT_EQ(to_string(asio_token_kind::use_awaitable), "use_awaitable");
    EXPECT_EQ(to_string(asio_token_kind::deferred), "deferred");
    EXPECT_EQ(to_string(workload_kind::sleep), "sleep");
    EXPECT_EQ(to_string(workload_kind::yield), "yield");
    EXPECT_EQ(to_string(workload_kind::ring), "ring");
    EXPECT_EQ(to_string(workload_kind::spawn_tree), "spawn_tree");
    EXPECT_EQ(to_string(workload_kind::cpu), "cpu");
    EXPECT_EQ(to_string(workload_kind::echo), "echo");
    EXPECT_EQ(to_string(workload_kind::rpc), "rpc");
}

TEST(ToYaml, each_enum_lists_every_value_once_in_its_all_array) {
    EXPECT_EQ(names_of(all_workload_kinds), "sleep, yield, ring, spawn_tree, cpu, echo, rpc");
    EXPECT_EQ(names_of(all_engine_kinds), "lean, asio");
    EXPECT_EQ(names_of(all_layout_kinds), "per_thread, shared");
    EXPECT_EQ(names_of(all_hand_off_kinds), "next, fifo");
    EXPECT_EQ(names_of(all_log_levels), "trace, debug, info, warn, error, critical, off");
    EXPECT_EQ(names_of(all_log_formats), "text, json");
    for (std::size_t i = 0; i < all_workload_kinds.size(); ++i) {
        EXPECT_EQ(static_cast<std::size_t>(all_workload_kinds[i]), i) << "in the enum's order";
    }
}

TEST(ToYaml, the_memory_limit_reads_auto_none_or_a_size) {
    memory_config m;
    EXPECT_EQ(memory_limit_text(m), "auto");
    m.limit = memory_limit_kind::none;
    EXPECT_EQ(memory_limit_text(m), "none");
    m.limit = memory_limit_kind::bytes;
    m.limit_bytes = 512ULL << 20U;
    EXPECT_EQ(memory_limit_text(m), "512MiB");
}

TEST(ToYaml, loading_the_output_gives_back_the_same_config) {
    const config full = load_string(full_yaml);
    ASSERT_NE(full, defaults());
    EXPECT_EQ(load_string(to_yaml(defaults())), defaults());
    EXPECT_EQ(load_string(to_yaml(full)), full);

    config odd = defaults();
    odd.memory.headroom_fraction = 0.1 + 0.2;  // a fraction no one would type
    odd.memory.limit = memory_limit_kind::bytes;
    odd.memory.limit_bytes = 3'000'000'000;
    odd.workloads[0].weight = 1.0 / 3.0;
    odd.workloads[0].sleep.period = 1500us;
    odd.scenario.stages[0].name = "null";
    odd.server = load_string("server: {listen: 'localhost:1'}").server;
    odd.workloads[0].sleep.work = 1234ns;
    const std::string yaml = to_yaml(odd);
    EXPECT_THAT(yaml, HasSubstr("limit: 3GB\n"));
    EXPECT_THAT(yaml, HasSubstr("work: 1234ns\n"));
    EXPECT_THAT(yaml, HasSubstr("period: 1500us\n"));
    EXPECT_EQ(load_string(yaml), odd) << yaml;

    // A size replaces the percentage, which then keeps its default, as loading leaves it.
    odd.memory.headroom_bytes = 64ULL << 20U;
    odd.memory.headroom_fraction = defaults().memory.headroom_fraction;
    EXPECT_THAT(to_yaml(odd), HasSubstr("headroom: 64MiB\n"));
    EXPECT_EQ(load_string(to_yaml(odd)), odd) << to_yaml(odd);
}

TEST(ToYaml, a_mix_of_every_kind_engine_and_layout_survives_the_round_trip) {
    for (const engine_kind engine : {engine_kind::lean, engine_kind::asio}) {
        for (const layout_kind layout : {layout_kind::per_thread, layout_kind::shared}) {
            config mixed = load_string(full_yaml);
            mixed.runtime.engine = engine;
            mixed.runtime.layout = layout;
            mixed.runtime.hand_off =
                layout == layout_kind::shared ? hand_off_kind::fifo : hand_off_kind::next;
            mixed.runtime.asio = {.executor = asio_executor_kind::typed,
                                  .allocator = layout == layout_kind::shared ? asio_allocator_kind::recycling
                                                                             : asio_allocator_kind::worker};
            mixed.workloads[2].yield.work = 999us;
            mixed.workloads[3].ring.ring_size = 1'000'000;
            mixed.workloads[4].spawn_tree = {1, 20};
            mixed.workloads[5].cpu = {1us, 1'000'000'000'000};
            mixed.workloads[6].echo = {24h, 65536};
            mixed.workloads[7].rpc = {1500us, 1000, 1024};
            const std::string yaml = to_yaml(mixed);
            EXPECT_EQ(load_string(yaml), mixed) << yaml;
        }
    }
    EXPECT_EQ(load_string(to_yaml(load_defaults(sets({"workloads[0].kind=spawn_tree"})))),
              load_defaults(sets({"workloads[0].kind=spawn_tree"})));
}

TEST(ToYaml, message_sizes_are_written_as_a_user_would_and_read_back) {
    for (const std::uint64_t bytes :
         {1ULL, 16ULL, 64ULL, 1000ULL, 1001ULL, 1024ULL, 1536ULL, 65535ULL, 65536ULL}) {
        config c = defaults();
        c.workloads.push_back(echoer({10s, bytes}));
        c.workloads.push_back(caller({1s, std::max<std::uint64_t>(bytes, 16), 16}));
        c.workloads[1].name = "e";
        c.workloads[2].name = "p";
        const std::string yaml = to_yaml(c);
        EXPECT_EQ(load_string(yaml), c) << yaml;
        EXPECT_THAT(yaml, HasSubstr("message: " + format_size(bytes) + "\n")) << yaml;
    }
    config c = defaults();
    c.workloads.push_back(echoer({10s, 100}));
    EXPECT_THAT(to_yaml(c), HasSubstr("message: 100B\n"));
    c.workloads[1].echo.message = 2048;
    EXPECT_THAT(to_yaml(c), HasSubstr("message: 2KiB\n"));
}

// Every other bad config is a file in tests/config/bad (see the test at the end); this
// one is generated, 1001 stages being too long to keep as a file.
TEST(BadConfig, too_many_stages_are_refused) {
    std::string yaml = "scenario:\n  stages:\n";
    for (int i = 0; i < 1001; ++i) {
        yaml += "    - {name: s" + std::to_string(i) + ", over: 1s}\n";
    }
    EXPECT_THAT(error_of(yaml),
                HasSubstr("scenario.stages: must be a list of 1 to 1000 stages, got a list of 1001 items"));
}

TEST(BadConfig, whole_messages_have_the_documented_shape) {
    EXPECT_EQ(error_of("runtime: {threads: 5000}"), "runtime.threads: must be between 0 and 1024, got 5000");
    EXPECT_EQ(error_of("runtime: {thread: 4}"),
              R"(runtime.thread: unknown key; did you mean "threads"? allowed: threads, engine, )"
              "layout, hand_off, timer_tick, asio");
    EXPECT_EQ(error_of("scenario: {stages: [{name: a, over: 1s}, {name: b, over: fast}]}"),
              R"(scenario.stages[1].over: must be a duration like 250ms, 30s, 5m, got "fast")");
    EXPECT_EQ(error_of("runtime: {engine: fibers}"),
              R"(runtime.engine: must be one of lean, asio, got "fibers")");
    EXPECT_EQ(error_of("runtime: {layout: numa}"),
              R"(runtime.layout: must be one of per_thread, shared, got "numa")");
    EXPECT_EQ(error_of("workloads: [{name: a, kind: sleep, fanout: 10}]"),
              "workloads[0].fanout: not a parameter of kind sleep (it belongs to spawn_tree); allowed: "
              "period, rounds, work");
    EXPECT_EQ(
        error_of("workloads: [{name: a, kind: ring, perdio: 1s}]"),
        R"(workloads[0].perdio: unknown key for kind ring; did you mean "period"? allowed: name, kind, )"
        "weight, ring_size");
    EXPECT_EQ(error_of("workloads: [{name: a, kind: spawn_tree, fanout: 10, depth: 9}]"),
              "workloads[0].depth: a tree of fanout 10 and depth 9 has 1111111111 tasks, more than the limit "
              "of 1G; lower the depth or the fanout");
    EXPECT_EQ(error_of("zzz: 1"),
              "zzz: unknown key; allowed: server, log, runtime, memory, latency, scenario, "
              "workloads");
    EXPECT_EQ(error_of(""), "<string>: config file is empty; write {} for all defaults");
}

TEST(BadConfig, long_values_are_cut_short_in_messages) {
    const std::string message = error_of("log: {level: " + std::string(5000, 'x') + "}");
    EXPECT_THAT(message, HasSubstr("got \"" + std::string(80, 'x') + "...\" (5000 bytes)"));
    EXPECT_LT(message.size(), 300U);
}

TEST(BadConfig, long_keys_are_cut_short_in_messages) {
    const std::string message = error_of("runtime:\n  ? " + std::string(5000, 'k') + "\n  : 1\n");
    EXPECT_THAT(message, HasSubstr("runtime.\"" + std::string(80, 'k') + "...\" (5000 bytes): unknown key"));
    EXPECT_LT(message.size(), 300U);
}

// The files the CLI test also runs: each opens with "# expect: <part of the message>".
TEST(BadConfig, every_file_in_the_bad_folder_fails_with_its_expected_message) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(COROSTORM_BAD_CONFIG_DIR)) {
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    ASSERT_GE(files.size(), 290U);
    const std::string marker = "# expect: ";
    for (const auto& file : files) {
        std::ifstream in(file, std::ios::binary);
        std::string first_line;
        std::getline(in, first_line);
        ASSERT_TRUE(first_line.starts_with(marker)) << file;
        const std::string expected = first_line.substr(marker.size());
        ASSERT_FALSE(expected.empty()) << file;
        try {
            load_file(file.string());
            ADD_FAILURE() << file << " loaded without an error";
        } catch (const config_error& e) {
            EXPECT_THAT(e.what(), HasSubstr(expected)) << file;
        }
    }
}

// The configs schema_test.py also validates against config/corostorm.schema.json.
TEST(GoodConfig, every_file_in_the_good_folder_loads) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(COROSTORM_GOOD_CONFIG_DIR)) {
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    ASSERT_GE(files.size(), 5U);
    for (const auto& file : files) {
        try {
            load_file(file.string());
        } catch (const config_error& e) {
            ADD_FAILURE() << e.what();
        }
    }
}

// The key paths in YAML written by to_yaml (block style, two-space indents), list indices
// written [], e.g. scenario.stages[].tasks.
std::set<std::string> key_paths(const std::string& yaml) {
    std::set<std::string> out;
    std::vector<std::pair<std::size_t, std::string>> open;  // indentation and path of each parent
    std::istringstream in(yaml);
    std::string line;
    const auto parent_at = [&](std::size_t indent) {
        while (!open.empty() && open.back().first >= indent) {
            open.pop_back();
        }
        return open.empty() ? std::string() : open.back().second;
    };
    while (std::getline(in, line)) {
        std::size_t indent = line.find_first_not_of(' ');
        if (indent == std::string::npos) {
            continue;
        }
        std::string rest = line.substr(indent);
        if (rest.starts_with("- ")) {
            open.emplace_back(indent, parent_at(indent) + "[]");
            indent += 2;
            rest = rest.substr(2);
        }
        const std::string parent = parent_at(indent);
        const std::string path = (parent.empty() ? "" : parent + ".") + rest.substr(0, rest.find(':'));
        out.insert(path);
        open.emplace_back(indent, path);
    }
    return out;
}

// The key path an expected message starts with, list indices written [].
std::string expected_key_path(const std::string& expected) {
    std::string path;
    const std::string head = expected.substr(0, expected.find(": "));
    for (std::size_t at = 0; at < head.size(); ++at) {
        path += head[at];
        if (head[at] == '[') {
            at = head.find(']', at) - 1;
        }
    }
    return path;
}

TEST(BadConfig, the_bad_folder_holds_a_wrong_value_for_every_key) {
    const std::set<std::string> keys = key_paths(to_yaml(load_string(full_yaml)));
    ASSERT_TRUE(keys.contains("scenario.stages[].over")) << to_yaml(load_string(full_yaml));
    ASSERT_TRUE(keys.contains("workloads[].ring_size"));
    std::set<std::string> covered;
    for (const auto& entry : std::filesystem::directory_iterator(COROSTORM_BAD_CONFIG_DIR)) {
        std::ifstream in(entry.path(), std::ios::binary);
        std::string first_line;
        std::getline(in, first_line);
        covered.insert(expected_key_path(first_line.substr(std::string("# expect: ").size())));
    }
    for (const std::string& key : keys) {
        EXPECT_TRUE(covered.contains(key))
            << "no file in " << COROSTORM_BAD_CONFIG_DIR << " expects an error about " << key;
    }
}

}  // namespace
}  // namespace corostorm::config
