// Loading, --set overrides, to_yaml, and the messages bad configs get.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
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
    EXPECT_EQ(c.workloads[0].sleep, (sleep_params{1s, 0}));
}

TEST(Defaults, the_shipped_config_file_documents_exactly_the_defaults) {
    EXPECT_EQ(load_file(COROSTORM_SHIPPED_CONFIG), defaults());
}

TEST(Load, a_section_with_every_key_commented_out_is_empty) {
    EXPECT_EQ(load_string("runtime:\n  # threads: 4\nlog:\n"), defaults());
}

constexpr const char* full_yaml = R"(# every key, none at its default
server: { listen: "[::1]:8080" }
log: { level: debug, format: json }
runtime:
  threads: 8
  engine: lean
  layout: per_thread
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
  - { name: idle, kind: sleep, weight: 3, period: 250ms, rounds: 10k }
  - { name: busy, weight: 0.5, period: 1ms }
)";

TEST(Load, a_full_file_sets_every_field) {
    const config c = load_string(full_yaml);
    EXPECT_EQ(c.server.listen, "[::1]:8080");
    EXPECT_EQ(c.server.host, "::1");
    EXPECT_EQ(c.server.port, 8080);
    EXPECT_EQ(c.log.level, log_level::debug);
    EXPECT_EQ(c.log.format, log_format::json);
    EXPECT_EQ(c.runtime.threads, 8U);
    EXPECT_EQ(c.memory.limit, memory_limit_kind::bytes);
    EXPECT_EQ(c.memory.limit_bytes, 512ULL << 20U);
    EXPECT_EQ(c.memory.headroom_fraction, 0.125);
    EXPECT_EQ(c.latency.sample_every, 1000U);
    EXPECT_TRUE(c.scenario.repeat);
    ASSERT_EQ(c.scenario.stages.size(), 3U);
    EXPECT_EQ(c.scenario.stages[0], (stage_config{"warm-up", 1'500'000U, 500ms}));
    EXPECT_EQ(c.scenario.stages[1], (stage_config{"hold_1", std::nullopt, 1h}));
    EXPECT_EQ(c.scenario.stages[2], (stage_config{"v2.drain", 0U, 0s}));
    ASSERT_EQ(c.workloads.size(), 2U);
    EXPECT_EQ(c.workloads[0].name, "idle");
    EXPECT_EQ(c.workloads[0].weight, 3.0);
    EXPECT_EQ(c.workloads[0].sleep, (sleep_params{250ms, 10'000}));
    EXPECT_EQ(c.workloads[1].name, "busy");
    EXPECT_EQ(c.workloads[1].kind, workload_kind::sleep);
    EXPECT_EQ(c.workloads[1].weight, 0.5);
    EXPECT_EQ(c.workloads[1].sleep, (sleep_params{1ms, 0}));
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
              "layout (from --set runtime.thread=4)");
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
)");
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
    const std::string yaml = to_yaml(odd);
    EXPECT_THAT(yaml, HasSubstr("limit: 3GB\n"));
    EXPECT_THAT(yaml, HasSubstr("period: 1500us\n"));
    EXPECT_EQ(load_string(yaml), odd) << yaml;

    // A size replaces the percentage, which then keeps its default, as loading leaves it.
    odd.memory.headroom_bytes = 64ULL << 20U;
    odd.memory.headroom_fraction = defaults().memory.headroom_fraction;
    EXPECT_THAT(to_yaml(odd), HasSubstr("headroom: 64MiB\n"));
    EXPECT_EQ(load_string(to_yaml(odd)), odd) << to_yaml(odd);
}

// A bad config and a part of the message it must produce; the part always includes the
// key path (or, for errors about the file as a whole, the origin).
struct bad_case {
    const char* description;
    std::string yaml;
    const char* expected;
};

const bad_case bad_cases[] = {
    {"threads out of range", "runtime: {threads: 5000}",
     "runtime.threads: must be between 0 and 1024, got 5000"},
    {"negative threads", "runtime: {threads: -1}", "runtime.threads: must be between 0 and 1024, got -1"},
    {"bool where a count goes", "runtime: {threads: true}",
     "runtime.threads: must be a count like 1000, 10k or 1M, got true"},
    {"map where a count goes", "runtime: {threads: {a: 1}}",
     "runtime.threads: must be a count like 1000, 10k or 1M, got a map"},
    {"scalar where a section goes", "runtime: 4",
     "runtime: must be a map with keys threads, engine, layout, got 4"},
    {"unknown top-level key", "servr: {}", R"(servr: unknown key; did you mean "server"?)"},
    {"unknown key with nothing close", "zzz: 1", "zzz: unknown key; allowed: server, log"},
    {"unknown key in a section", "runtime: {thread: 4}",
     R"(runtime.thread: unknown key; did you mean "threads"? allowed: threads, engine, layout)"},
    {"unknown key in a stage", "scenario: {stages: [{name: a, over: 1s, taks: 5}]}",
     R"(scenario.stages[0].taks: unknown key; did you mean "tasks"? allowed: name, tasks, over)"},
    {"unknown key in a workload", "workloads: [{name: a, perdio: 1s}]",
     R"(workloads[0].perdio: unknown key for kind sleep; did you mean "period"?)"},
    {"parameter of another kind", "workloads: [{name: a, kind: sleep, fanout: 10}]",
     "workloads[0].fanout: unknown key for kind sleep; allowed: name, kind, weight, period, "
     "rounds"},
    {"dotted key in the file", "runtime.threads: 4",
     "runtime.threads: unknown key; dotted paths are for --set; in the file, nest the keys as "
     "maps; allowed: server"},
    {"duplicate key", "runtime: {threads: 1, threads: 2}",
     "runtime.threads: duplicate key; write each key once"},
    {"duplicate stage name",
     "scenario: {stages: [{name: a, over: 1s}, {name: b, over: 1s}, {name: a, over: 1s}]}",
     R"(scenario.stages[2].name: must be unique (scenario.stages[0].name is the same), got "a")"},
    {"duplicate workload name", "workloads: [{name: w}, {name: w}]", "workloads[1].name: must be unique"},
    {"zero total weight", "workloads: [{name: a, weight: 0}]",
     "workloads[0].weight: must be a number greater than 0 and at most 1000000, got 0"},
    {"negative weight", "workloads: [{name: a}, {name: b, weight: -2}]",
     "workloads[1].weight: must be a number greater than 0"},
    {"weight too large", "workloads: [{name: a, weight: 1e7}]",
     "workloads[0].weight: must be a number greater than 0 and at most 1000000, got 1e7"},
    {"stage without over", "scenario: {stages: [{name: a, tasks: 1}]}",
     "scenario.stages[0].over: is missing; every stage needs a duration like 30s"},
    {"stage without name", "scenario: {stages: [{over: 1s}]}",
     "scenario.stages[0].name: is missing; every stage needs a name"},
    {"duration that is a word", "scenario: {stages: [{name: a, over: 1s}, {name: b, over: fast}]}",
     R"(scenario.stages[1].over: must be a duration like 250ms, 30s, 5m, got "fast")"},
    {"duration without a unit", "scenario: {stages: [{name: a, over: 30}]}",
     "scenario.stages[0].over: must be a duration with a unit (ns, us, ms, s, m, h, d)"},
    {"duration too long", "scenario: {stages: [{name: a, over: 400d}]}",
     "scenario.stages[0].over: must be between 0s and 365d, got 400d"},
    {"negative duration", "scenario: {stages: [{name: a, over: -1s}]}",
     "scenario.stages[0].over: must be between 0s and 365d, got -1s"},
    {"count overflowing uint64", "scenario: {stages: [{name: a, tasks: 99999999999999999999, over: 1s}]}",
     "scenario.stages[0].tasks: must be between 0 and 10G, got 99999999999999999999"},
    {"count above its range", "scenario: {stages: [{name: a, tasks: 20G, over: 1s}]}",
     "scenario.stages[0].tasks: must be between 0 and 10G, got 20G"},
    {"count with an unknown unit", "scenario: {stages: [{name: a, tasks: 1X, over: 1s}]}",
     "scenario.stages[0].tasks: must be a count like 1000, 10k or 1M, got 1X"},
    {"count with a bare fraction", "scenario: {stages: [{name: a, tasks: 1.5, over: 1s}]}",
     "scenario.stages[0].tasks: must be a count like 1000, 10k or 1M, got 1.5"},
    {"quoted count is shown quoted", "scenario: {stages: [{name: a, tasks: \" 1M\", over: 1s}]}",
     R"(scenario.stages[0].tasks: must be a count like 1000, 10k or 1M, got " 1M")"},
    {"over-long name", "scenario: {stages: [{name: " + std::string(65, 'n') + ", over: 1s}]}",
     "scenario.stages[0].name: must be 1 to 64 characters from A-Z a-z 0-9 _ . -, got \"nnn"},
    {"name with a space", "workloads: [{name: 'a b'}]",
     R"(workloads[0].name: must be 1 to 64 characters from A-Z a-z 0-9 _ . -, got "a b")"},
    {"null name", "workloads: [{name: ~}]", "workloads[0].name: must be 1 to 64 characters"},
    {"empty stage list", "scenario: {stages: []}",
     "scenario.stages: must be a list of 1 to 1000 stages, got an empty list"},
    {"stage that is not a map", "scenario: {stages: [ramp]}",
     R"(scenario.stages[0]: must be a map with keys name, tasks, over, got "ramp")"},
    {"too many stages",
     [] {
         std::string yaml = "scenario:\n  stages:\n";
         for (int i = 0; i < 1001; ++i) {
             yaml += "    - {name: s" + std::to_string(i) + ", over: 1s}\n";
         }
         return yaml;
     }(),
     "scenario.stages: must be a list of 1 to 1000 stages, got a list of 1001 items"},
    {"empty workload list", "workloads: []",
     "workloads: must be a list of 1 to 64 workloads, got an empty list"},
    {"workload that is a list", "workloads: [[a]]",
     "workloads[0]: must be a map with keys name, kind, weight, got a list of 1 item"},
    {"workload kind not built", "workloads: [{name: a, kind: ring}]",
     R"(workloads[0].kind: not available in this version; allowed: sleep, got "ring")"},
    {"workload kind unknown", "workloads: [{name: a, kind: nap}]",
     R"(workloads[0].kind: must be sleep, got "nap")"},
    {"engine not built", "runtime: {engine: asio}",
     R"(runtime.engine: not available in this version; allowed: lean, got "asio")"},
    {"layout not built", "runtime: {layout: shared}",
     R"(runtime.layout: not available in this version; allowed: per_thread, got "shared")"},
    {"log level unknown", "log: {level: verbose}",
     R"(log.level: must be one of trace, debug, info, warn, error, critical, off, got "verbose")"},
    {"log format unknown", "log: {format: xml}", R"(log.format: must be one of text, json, got "xml")"},
    {"listen without a port", "server: {listen: 0.0.0.0}", "server.listen: must be HOST:PORT"},
    {"listen port too large", "server: {listen: '1.2.3.4:70000'}",
     "server.listen: must be HOST:PORT with an IPv4 address, [IPv6 address] or localhost and a "
     R"(port 0 to 65535, like 0.0.0.0:9464, got "1.2.3.4:70000")"},
    {"listen IPv6 without brackets", "server: {listen: '::1:9464'}", "server.listen: must be HOST:PORT"},
    {"listen host name", "server: {listen: 'example.com:80'}", "server.listen: must be HOST:PORT"},
    {"memory limit too small", "memory: {limit: 1MiB}",
     "memory.limit: must be auto, none or a size of at least 64MiB, got 1MiB"},
    {"memory limit lowercase unit", "memory: {limit: 512mb}",
     "memory.limit: must be auto, none or a size like 512MiB or 8GiB, got 512mb"},
    {"headroom above 90%", "memory: {headroom: 95%}",
     "memory.headroom: must be a percentage from 0% to 90% like 10%, or a size like 512MiB, "
     "got 95%"},
    {"headroom not below the limit", "memory: {limit: 128MiB, headroom: 1GiB}",
     "memory.headroom: must be smaller than memory.limit (128MiB), got 1GiB"},
    {"sample_every zero", "latency: {sample_every: 0}",
     "latency.sample_every: must be between 1 and 1M, got 0"},
    {"repeat not a bool", "scenario: {repeat: yes}", R"(scenario.repeat: must be true or false, got "yes")"},
    {"period too short", "workloads: [{name: a, period: 500us}]",
     "workloads[0].period: must be between 1ms and 1d, got 500us"},
    {"negative rounds", "workloads: [{name: a, rounds: -5}]",
     "workloads[0].rounds: must be between 0 and 1000G, got -5"},
    {"key that is not a name", "? [a]\n: 1\n", "top level: keys must be names, got a list of 1 item"},
    {"empty file", "", "<string>: config file is empty; write {} for all defaults"},
    {"only comments and blanks", "# nothing here\n\n   \n# still nothing\n",
     "<string>: config file is empty; write {} for all defaults"},
    {"YAML syntax error", "runtime:\n  threads: [1, 2\nlog: {}\n", "<string>:3:4: invalid YAML: "},
    {"invalid UTF-8", "log:\n  level: \"\xC3\x28\"\n",
     "<string>: invalid UTF-8 at byte offset 15 (line 2, column 11); save the file as UTF-8"},
    {"overlong UTF-8", "a: \xC0\xAF\n", "<string>: invalid UTF-8 at byte offset 3"},
    {"UTF-16 surrogate in UTF-8", "a: \xED\xA0\x80\n", "<string>: invalid UTF-8 at byte offset 3"},
    {"NUL byte", std::string("log: {}\0runtime: 5\n", 19),
     "<string>: control character 0x00 at byte offset 7 (line 1, column 8)"},
    {"top-level list", "- server\n- log\n",
     "<string>: the top level must be a map of sections (server, log, runtime, memory, latency, "
     "scenario, workloads), got a list of 2 items"},
    {"top-level scalar", "hello", R"(<string>: the top level must be a map of sections)"},
    {"top-level null", "---\n",
     "the top level must be a map of sections (server, log, runtime, "
     "memory, latency, scenario, workloads), got null"},
    {"two documents", "{}\n---\n{}\n", "<string>: holds 2 YAML documents"},
};

TEST(BadConfig, each_error_names_the_key_path) {
    ASSERT_GE(std::size(bad_cases), 30U);
    for (const bad_case& c : bad_cases) {
        EXPECT_THAT(error_of(c.yaml), HasSubstr(c.expected)) << c.description;
    }
}

TEST(BadConfig, whole_messages_have_the_documented_shape) {
    EXPECT_EQ(error_of("runtime: {threads: 5000}"), "runtime.threads: must be between 0 and 1024, got 5000");
    EXPECT_EQ(error_of("runtime: {thread: 4}"),
              R"(runtime.thread: unknown key; did you mean "threads"? allowed: threads, engine, )"
              "layout");
    EXPECT_EQ(error_of("scenario: {stages: [{name: a, over: 1s}, {name: b, over: fast}]}"),
              R"(scenario.stages[1].over: must be a duration like 250ms, 30s, 5m, got "fast")");
    EXPECT_EQ(error_of("runtime: {engine: asio}"),
              R"(runtime.engine: not available in this version; allowed: lean, got "asio")");
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

// The files the CLI test also runs: each opens with "# expect: <part of the message>".
TEST(BadConfig, every_file_in_the_bad_folder_fails_with_its_expected_message) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(COROSTORM_BAD_CONFIG_DIR)) {
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    ASSERT_GE(files.size(), 25U);
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

}  // namespace
}  // namespace corostorm::config
