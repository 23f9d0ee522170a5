// YAML tree -> validated config. Each reader states what it accepts in the words its
// error message uses, so the check and the message cannot drift apart.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include "config/errors.h"
#include "config/units.h"
#include "config/yaml_tree.h"

namespace corostorm::config::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view count_like = "must be a count like 1000, 10k or 1M";
constexpr std::string_view duration_like = "must be a duration like 250ms, 30s, 5m";
constexpr std::string_view size_like = "must be a size like 64B, 1KiB or 64KiB";
constexpr std::string_view name_rule = "must be 1 to 64 characters from A-Z a-z 0-9 _ . -";

std::string join(const std::vector<std::string_view>& words) {
    std::string out;
    for (const std::string_view w : words) {
        out += out.empty() ? "" : ", ";
        out += w;
    }
    return out;
}

// Optimal string alignment distance: like Levenshtein, but a swapped pair of adjacent
// letters ("lsiten") is one edit, the commonest typo in a key.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) {
        d[i][0] = i;
    }
    for (std::size_t j = 0; j <= b.size(); ++j) {
        d[0][j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[a.size()][b.size()];
}

// The allowed key closest to `key`, if it is close enough to be a plausible typo: at most
// two edits, and at most a third of the word, so "lvl" does not suggest "log".
std::optional<std::string_view> closest(std::string_view key, const std::vector<std::string_view>& allowed) {
    std::optional<std::string_view> best;
    std::size_t best_distance = 3;
    for (const std::string_view candidate : allowed) {
        // The length difference bounds the distance; it also keeps a huge key cheap.
        const std::size_t gap =
            std::max(key.size(), candidate.size()) - std::min(key.size(), candidate.size());
        if (gap >= best_distance) {
            continue;
        }
        const std::size_t distance = edit_distance(key, candidate);
        if (distance < best_distance && distance * 3 <= candidate.size()) {
            best = candidate;
            best_distance = distance;
        }
    }
    return best;
}

// What to tell someone who wrote `key`: a likely spelling, or that a dotted key such as
// `runtime.threads` at the top level must be written nested.
std::string hint(std::string_view key, const std::vector<std::string_view>& allowed) {
    if (const auto near = closest(key, allowed)) {
        return "did you mean \"" + std::string(*near) + "\"? ";
    }
    if (key.find('.') != std::string_view::npos) {
        return "dotted paths are for --set; in the file, nest the keys as maps; ";
    }
    return {};
}

// What a section says about a key it does not allow.
struct unknown_key_policy {
    std::string problem = "unknown key";
    // The did-you-mean candidates; empty means the allowed keys.
    std::vector<std::string_view> suggestions;
    // For a key that is valid elsewhere, the whole message about it; empty when the key
    // is simply unknown.
    std::function<std::string(std::string_view key)> misplaced;
};

// The entries of one YAML map, checked against the keys allowed there. A null node (a
// section whose keys are all commented out) is an empty section.
class section {
public:
    section(const field& f, std::vector<std::string_view> keys, const unknown_key_policy& unknown = {})
        : path_(f.path) {
        if (f.node.IsNull()) {
            return;
        }
        if (!f.node.IsMap()) {
            fail(f, "must be a map with keys " + join(keys));
        }
        for (const auto& entry : f.node) {
            if (!entry.first.IsScalar()) {
                fail(path_.empty() ? "top level" : path_, "keys must be names", entry.first);
            }
            const std::string& key = entry.first.Scalar();
            if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
                if (unknown.misplaced) {
                    if (const std::string message = unknown.misplaced(key); !message.empty()) {
                        fail(path_of(key), message);
                    }
                }
                const auto& suggestions = unknown.suggestions.empty() ? keys : unknown.suggestions;
                fail(path_of(key),
                     unknown.problem + "; " + hint(key, suggestions) + "allowed: " + join(keys));
            }
            if (get(key)) {
                fail(path_of(key), "duplicate key; write each key once");
            }
            entries_.emplace_back(key, entry.second);
        }
    }

    std::optional<field> get(std::string_view key) const {
        for (const auto& [name, node] : entries_) {
            if (name == key) {
                return field{node, path_of(key)};
            }
        }
        return std::nullopt;
    }

    field required(std::string_view key, std::string_view why) const {
        if (auto f = get(key)) {
            return *f;
        }
        fail(path_of(key), "is missing; " + std::string(why));
    }

    std::string path_of(std::string_view key) const {
        return path_.empty() ? key_text(key) : path_ + "." + key_text(key);
    }

private:
    std::string path_;
    std::vector<std::pair<std::string, YAML::Node>> entries_;
};

const std::string& scalar(const field& f, std::string_view problem) {
    if (!f.node.IsScalar()) {
        fail(f, problem);
    }
    return f.node.Scalar();
}

std::uint64_t read_count(const field& f, std::uint64_t lo, std::uint64_t hi) {
    const parsed_number n = parse_count_text(scalar(f, count_like));
    if (n.status == parse_status::malformed) {
        fail(f, count_like);
    }
    if (n.status == parse_status::out_of_range || n.value < lo || n.value > hi) {
        fail(f, "must be between " + format_count(lo) + " and " + format_count(hi));
    }
    return n.value;
}

duration read_duration(const field& f, duration lo, duration hi) {
    const std::string& text = scalar(f, duration_like);
    const parsed_number n = parse_duration_text(text);
    if (n.status == parse_status::malformed) {
        const bool bare_number =
            parse_count_text(text).status == parse_status::ok &&
            std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
        fail(f, bare_number ? "must be a duration with a unit (ns, us, ms, s, m, h, d) like "
                              "250ms, 30s, 5m"
                            : duration_like);
    }
    const duration d(static_cast<duration::rep>(n.value));
    if (n.status == parse_status::out_of_range || d < lo || d > hi) {
        fail(f, "must be between " + format_duration(lo) + " and " + format_duration(hi));
    }
    return d;
}

std::uint64_t read_size(const field& f, std::uint64_t lo, std::uint64_t hi) {
    const parsed_number n = parse_size_text(scalar(f, size_like));
    if (n.status == parse_status::malformed) {
        fail(f, size_like);
    }
    if (n.status == parse_status::out_of_range || n.value < lo || n.value > hi) {
        fail(f, "must be between " + format_size(lo) + " and " + format_size(hi));
    }
    return n.value;
}

bool read_bool(const field& f) {
    constexpr std::string_view problem = "must be true or false";
    const std::string& text = scalar(f, problem);
    if (text != "true" && text != "false") {
        fail(f, problem);
    }
    return text == "true";
}

std::string read_name(const field& f) {
    const std::string& text = scalar(f, name_rule);
    const auto name_char = [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
               c == '.' || c == '-';
    };
    if (text.empty() || text.size() > 64 || !std::all_of(text.begin(), text.end(), name_char)) {
        fail(f, name_rule);
    }
    return text;
}

template <typename Enum, std::size_t N>
Enum read_enum(const field& f, const std::array<Enum, N>& values) {
    const std::string problem = (N == 1 ? "must be " : "must be one of ") + names_of(values);
    const std::string& text = scalar(f, problem);
    for (const Enum v : values) {
        if (to_string(v) == text) {
            return v;
        }
    }
    fail(f, problem);
}

// HOST:PORT where HOST is an IPv4 literal, an IPv6 literal in brackets, or localhost.
bool parse_listen(std::string_view text, server_config& out) {
    std::string host;
    std::string_view port;
    if (text.starts_with('[')) {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") {
            return false;
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        in6_addr address{};
        if (inet_pton(AF_INET6, host.c_str(), &address) != 1) {
            return false;
        }
    } else {
        const std::size_t colon = text.find(':');
        if (colon == std::string_view::npos) {
            return false;
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        in_addr address{};
        if (host == "localhost") {
            host = "127.0.0.1";
        } else if (inet_pton(AF_INET, host.c_str(), &address) != 1) {
            return false;
        }
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value > 65535) {
        return false;
    }
    out.host = host;
    out.port = static_cast<std::uint16_t>(value);
    return true;
}

void read_server(const field& f, server_config& out) {
    const section s(f, {"listen"});
    if (const auto listen = s.get("listen")) {
        constexpr std::string_view problem =
            "must be HOST:PORT with an IPv4 address, [IPv6 address] or localhost and a port "
            "0 to 65535, like 0.0.0.0:9464";
        const std::string& text = scalar(*listen, problem);
        if (!parse_listen(text, out)) {
            fail(*listen, problem);
        }
        out.listen = text;
    }
}

void read_log(const field& f, log_config& out) {
    const section s(f, {"level", "format"});
    if (const auto level = s.get("level")) {
        out.level = read_enum(*level, all_log_levels);
    }
    if (const auto format = s.get("format")) {
        out.format = read_enum(*format, all_log_formats);
    }
}

void read_asio(const field& f, asio_config& out) {
    const section s(f, {"executor", "allocator", "token"});
    if (const auto executor = s.get("executor")) {
        out.executor = read_enum(*executor, all_asio_executor_kinds);
    }
    if (const auto allocator = s.get("allocator")) {
        out.allocator = read_enum(*allocator, all_asio_allocator_kinds);
    }
    if (const auto token = s.get("token")) {
        out.token = read_enum(*token, all_asio_token_kinds);
        if (out.token == asio_token_kind::deferred && out.allocator == asio_allocator_kind::worker) {
            fail(*token,
                 "deferred goes with runtime.asio.allocator: recycling (Asio 1.26 cannot bind an "
                 "allocator to deferred); use use_awaitable");
        }
    }
}

void read_runtime(const field& f, runtime_config& out) {
    const section s(f, {"threads", "engine", "layout", "hand_off", "timer_tick", "asio"});
    if (const auto threads = s.get("threads")) {
        out.threads = static_cast<unsigned>(read_count(*threads, 0, 1024));
    }
    if (const auto engine = s.get("engine")) {
        out.engine = read_enum(*engine, all_engine_kinds);
    }
    if (const auto layout = s.get("layout")) {
        out.layout = read_enum(*layout, all_layout_kinds);
    }
    if (const auto hand_off = s.get("hand_off")) {
        out.hand_off = read_enum(*hand_off, all_hand_off_kinds);
    }
    if (const auto tick = s.get("timer_tick")) out.timer_tick = read_duration(*tick, 10us, 100ms);
    if (const auto asio = s.get("asio")) {
        read_asio(*asio, out.asio);
        // The slab has one owner thread; in the shared layout a completion runs on any.
        if (out.asio.allocator == asio_allocator_kind::worker && out.layout == layout_kind::shared) {
            fail(asio->path + ".allocator",
                 "worker needs runtime.layout: per_thread (the shared layout has "
                 "no per-thread slab); use recycling");
        }
    }
}

void read_memory(const field& f, memory_config& out) {
    constexpr std::uint64_t min_limit = 64ULL << 20U;
    // The largest whole number of TiB in 64 bits, so the range reads in units one can type.
    constexpr std::uint64_t max_limit = (std::numeric_limits<std::uint64_t>::max() >> 40U) << 40U;
    constexpr double max_headroom = 0.9;
    const section s(f, {"limit", "headroom"});
    if (const auto limit = s.get("limit")) {
        constexpr std::string_view problem = "must be auto, none or a size like 512MiB or 8GiB";
        const std::string& text = scalar(*limit, problem);
        if (text == "auto" || text == "none") {
            out.limit = text == "auto" ? memory_limit_kind::automatic : memory_limit_kind::none;
        } else {
            const parsed_number n = parse_size_text(text);
            if (n.status == parse_status::malformed) {
                fail(*limit, problem);
            }
            if (n.status == parse_status::out_of_range || n.value < min_limit || n.value > max_limit) {
                fail(*limit, "must be auto, none or a size from " + format_size(min_limit) + " to " +
                                 format_size(max_limit));
            }
            out.limit = memory_limit_kind::bytes;
            out.limit_bytes = n.value;
        }
    }
    if (const auto headroom = s.get("headroom")) {
        constexpr std::string_view problem =
            "must be a percentage from 0% to 90% like 10%, or a size like 512MiB";
        const std::string& text = scalar(*headroom, problem);
        if (text.ends_with('%')) {
            const auto fraction = parse_percent(text);
            if (!fraction || *fraction > max_headroom) {
                fail(*headroom, problem);
            }
            out.headroom_fraction = *fraction;
        } else {
            const auto bytes = parse_size(text);
            if (!bytes) {
                fail(*headroom, problem);
            }
            if (out.limit == memory_limit_kind::bytes && *bytes >= out.limit_bytes) {
                fail(*headroom, "must be smaller than memory.limit (" + format_size(out.limit_bytes) + ")");
            }
            out.headroom_bytes = bytes;
        }
    }
}

void read_latency(const field& f, latency_config& out) {
    const section s(f, {"sample_every"});
    if (const auto every = s.get("sample_every")) {
        out.sample_every = read_count(*every, 1, 1'000'000);
    }
}

// The items of a list of maps, each with its own path.
std::vector<field> read_list(const field& f, std::size_t max, std::string_view items,
                             const std::vector<std::string_view>& item_keys) {
    if (!f.node.IsSequence() || f.node.size() == 0 || f.node.size() > max) {
        fail(f, "must be a list of 1 to " + std::to_string(max) + " " + std::string(items));
    }
    std::vector<field> out;
    for (const auto& item : f.node) {
        field entry{item, f.path + "[" + std::to_string(out.size()) + "]"};
        if (!item.IsMap()) {
            fail(entry, "must be a map with keys " + join(item_keys));
        }
        out.push_back(std::move(entry));
    }
    return out;
}

// Names within one list must differ; a repeat points at the first use.
class unique_names {
public:
    void add(const std::string& name, const field& f) {
        const auto [first, inserted] = first_use_.emplace(name, f.path);
        if (!inserted) {
            fail(f, "must be unique (" + first->second + " is the same)");
        }
    }

private:
    std::map<std::string, std::string, std::less<>> first_use_;
};

std::vector<stage_config> read_stages(const field& f) {
    const std::vector<std::string_view> keys{"name", "tasks", "over"};
    std::vector<stage_config> out;
    unique_names names;
    for (const field& item : read_list(f, 1000, "stages", keys)) {
        const section s(item, keys);
        stage_config stage;
        const field name = s.required("name", "every stage needs a name");
        stage.name = read_name(name);
        names.add(stage.name, name);
        if (const auto tasks = s.get("tasks")) {
            stage.tasks = read_count(*tasks, 0, 10'000'000'000);
        }
        stage.over =
            read_duration(s.required("over", "every stage needs a duration like 30s"), 0s, 24h * 365);
        out.push_back(std::move(stage));
    }
    return out;
}

void read_scenario(const field& f, scenario_config& out) {
    const section s(f, {"repeat", "stages"});
    if (const auto repeat = s.get("repeat")) {
        out.repeat = read_bool(*repeat);
    }
    if (const auto stages = s.get("stages")) {
        out.stages = read_stages(*stages);
    }
}

// The keys a workload of `kind` takes besides name, kind and weight.
std::vector<std::string_view> parameters_of(workload_kind kind) {
    switch (kind) {
        case workload_kind::sleep:
            return {"period", "rounds", "work"};
        case workload_kind::yield:
            return {"rounds", "work"};
        case workload_kind::ring:
            return {"ring_size"};
        case workload_kind::spawn_tree:
            return {"fanout", "depth"};
        case workload_kind::cpu:
            return {"slice", "rounds"};
        case workload_kind::echo:
            return {"period", "message"};
        case workload_kind::rpc:
            return {"period", "message", "connections"};
    }
    return {};
}

// The kinds that take `key` as a parameter.
std::vector<std::string_view> kinds_taking(std::string_view key) {
    std::vector<std::string_view> out;
    for (const workload_kind kind : all_workload_kinds) {
        const std::vector<std::string_view> params = parameters_of(kind);
        if (std::find(params.begin(), params.end(), key) != params.end()) {
            out.push_back(to_string(kind));
        }
    }
    return out;
}

// The keys a workload entry of `kind` may hold, followed by the parameters of every
// other kind: the candidates for "did you mean", so a typo of another kind's parameter
// leads to the message that names its kind.
std::vector<std::string_view> workload_key_suggestions(const std::vector<std::string_view>& keys) {
    std::vector<std::string_view> out = keys;
    for (const workload_kind kind : all_workload_kinds) {
        for (const std::string_view param : parameters_of(kind)) {
            if (std::find(out.begin(), out.end(), param) == out.end()) {
                out.push_back(param);
            }
        }
    }
    return out;
}

double read_weight(const field& f) {
    constexpr std::string_view problem = "must be a number greater than 0 and at most 1000000";
    const std::string& text = scalar(f, problem);
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || !(value > 0 && value <= 1e6)) {
        fail(f, problem);
    }
    return value;
}

// Optional keys: `out` keeps its default when the key is absent.
void read_count_at(const section& s, std::string_view key, std::uint64_t lo, std::uint64_t hi,
                   std::uint64_t& out) {
    if (const auto f = s.get(key)) {
        out = read_count(*f, lo, hi);
    }
}

void read_duration_at(const section& s, std::string_view key, duration lo, duration hi, duration& out) {
    if (const auto f = s.get(key)) {
        out = read_duration(*f, lo, hi);
    }
}

void read_size_at(const section& s, std::string_view key, std::uint64_t lo, std::uint64_t hi,
                  std::uint64_t& out) {
    if (const auto f = s.get(key)) {
        out = read_size(*f, lo, hi);
    }
}

constexpr std::uint64_t max_rounds = 1'000'000'000'000;
constexpr duration max_work = 1s;
constexpr std::uint64_t max_tree_tasks = 1'000'000'000;
constexpr std::uint64_t max_message = 64ULL << 10U;
// An rpc request carries the caller's id and its send time, 8 bytes each, before any payload.
constexpr std::uint64_t min_rpc_message = 16;

// 1 + fanout + fanout^2 + ... + fanout^depth, or nullopt when that does not fit 64 bits.
std::optional<std::uint64_t> tree_tasks(std::uint64_t fanout, std::uint64_t depth) {
    constexpr std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t level = 1;  // tasks on the current level
    std::uint64_t total = 1;
    for (std::uint64_t d = 1; d <= depth; ++d) {
        if (level > most / fanout) {
            return std::nullopt;
        }
        level *= fanout;
        if (total > most - level) {
            return std::nullopt;
        }
        total += level;
    }
    return total;
}

void read_spawn_tree(const section& s, spawn_tree_params& out) {
    read_count_at(s, "fanout", 1, 1000, out.fanout);
    read_count_at(s, "depth", 1, 20, out.depth);
    const std::optional<std::uint64_t> tasks = tree_tasks(out.fanout, out.depth);
    if (tasks && *tasks <= max_tree_tasks) {
        return;
    }
    // Blame the depth when the entry sets it, else the fanout that made the default depth
    // too deep (the defaults alone make 1,111,111 tasks).
    const field blamed = s.get("depth") ? *s.get("depth") : *s.get("fanout");
    const std::string count = tasks
                                  ? std::to_string(*tasks)
                                  : "more than " + std::to_string(std::numeric_limits<std::uint64_t>::max());
    fail(blamed.path, "a tree of fanout " + std::to_string(out.fanout) + " and depth " +
                          std::to_string(out.depth) + " has " + count + " tasks, more than the limit of " +
                          format_count(max_tree_tasks) + "; lower the depth or the fanout");
}

void read_parameters(const section& s, workload_config& w) {
    switch (w.kind) {
        case workload_kind::sleep:
            read_duration_at(s, "period", 1ms, 24h, w.sleep.period);
            read_count_at(s, "rounds", 0, max_rounds, w.sleep.rounds);
            read_duration_at(s, "work", 0s, max_work, w.sleep.work);
            return;
        case workload_kind::yield:
            read_count_at(s, "rounds", 0, max_rounds, w.yield.rounds);
            read_duration_at(s, "work", 0s, max_work, w.yield.work);
            return;
        case workload_kind::ring:
            read_count_at(s, "ring_size", 2, 1'000'000, w.ring.ring_size);
            return;
        case workload_kind::spawn_tree:
            read_spawn_tree(s, w.spawn_tree);
            return;
        case workload_kind::cpu:
            read_duration_at(s, "slice", 1us, 1s, w.cpu.slice);
            read_count_at(s, "rounds", 0, max_rounds, w.cpu.rounds);
            return;
        case workload_kind::echo:
            read_duration_at(s, "period", 1ms, 24h, w.echo.period);
            read_size_at(s, "message", 1, max_message, w.echo.message);
            return;
        case workload_kind::rpc:
            read_duration_at(s, "period", 1ms, 24h, w.rpc.period);
            read_size_at(s, "message", min_rpc_message, max_message, w.rpc.message);
            read_count_at(s, "connections", 1, 1024, w.rpc.connections);
            return;
    }
}

std::vector<workload_config> read_workloads(const field& f) {
    const std::vector<std::string_view> common{"name", "kind", "weight"};
    std::vector<workload_config> out;
    unique_names names;
    for (const field& item : read_list(f, 64, "workloads", common)) {
        workload_config w;
        // The kind decides which other keys are allowed, so it is read first.
        if (const YAML::Node kind = item.node["kind"]; kind.IsDefined()) {
            w.kind = read_enum(field{kind, item.path + ".kind"}, all_workload_kinds);
        }
        const std::string kind_name(to_string(w.kind));
        const std::vector<std::string_view> params = parameters_of(w.kind);
        std::vector<std::string_view> keys = common;
        keys.insert(keys.end(), params.begin(), params.end());
        const section s(item, keys,
                        {.problem = "unknown key for kind " + kind_name,
                         .suggestions = workload_key_suggestions(keys),
                         .misplaced = [&](std::string_view key) -> std::string {
                             const std::vector<std::string_view> owners = kinds_taking(key);
                             if (owners.empty()) {
                                 return {};
                             }
                             return "not a parameter of kind " + kind_name + " (it belongs to " +
                                    join(owners) + "); allowed: " + join(params);
                         }});

        const field name = s.required("name", "every workload needs a name");
        w.name = read_name(name);
        names.add(w.name, name);
        if (const auto weight = s.get("weight")) {
            w.weight = read_weight(*weight);
        }
        read_parameters(s, w);
        out.push_back(std::move(w));
    }
    return out;
}

}  // namespace

config from_tree(const YAML::Node& root) {
    config c = defaults();
    const section top(field{root, ""},
                      {"server", "log", "runtime", "memory", "latency", "scenario", "workloads"});
    if (const auto f = top.get("server")) {
        read_server(*f, c.server);
    }
    if (const auto f = top.get("log")) {
        read_log(*f, c.log);
    }
    if (const auto f = top.get("runtime")) {
        read_runtime(*f, c.runtime);
    }
    if (const auto f = top.get("memory")) {
        read_memory(*f, c.memory);
    }
    if (const auto f = top.get("latency")) {
        read_latency(*f, c.latency);
    }
    if (const auto f = top.get("scenario")) {
        read_scenario(*f, c.scenario);
    }
    if (const auto f = top.get("workloads")) {
        c.workloads = read_workloads(*f);
    }
    return c;
}

}  // namespace corostorm::config::detail
