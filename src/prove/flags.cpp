#include "prove/flags.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>

#include "daemon/assembly.h"
#include "prove/prove_report.h"
#include "text/format.h"

namespace corostorm::prove {

using daemon::tasks_per_unit;
using text::group_digits;

namespace {

using namespace std::chrono_literals;

template <class Enum, std::size_t N>
Enum parse_choice(std::string_view flag, const std::string& text, const std::array<Enum, N>& values) {
    for (const Enum v : values) {
        if (config::to_string(v) == text) return v;
    }
    throw usage_error(fmt::format("{}: must be one of {}, got \"{}\"", flag, config::names_of(values), text));
}

}  // namespace

CLI::App* add_prove_command(CLI::App& app, prove_flags& flags) {
    auto* prove_cmd = app.add_subcommand(
        "prove",
        "One-shot run without a server: spawn --tasks tasks as fast as the workers can, measure for up to "
        "5 s, drain, print a report (a table, or --json) and exit");
    prove_cmd->add_option("--tasks", flags.tasks, "Tasks to reach: a count like 100k or 10M (1 .. 10G)")
        ->required()
        ->type_name("COUNT");
    prove_cmd
        ->add_option("--workload", flags.workload,
                     "What the tasks do: " + config::names_of(config::all_workload_kinds))
        ->capture_default_str()
        ->type_name("KIND");
    prove_cmd->add_option("--engine", flags.engine, "lean or asio (default: runtime.engine of the config)")
        ->type_name("ENGINE");
    prove_cmd
        ->add_option("--threads", flags.threads,
                     "Worker threads, 0 .. 1024, 0 = the CPUs available (default: runtime.threads)")
        ->type_name("N");
    prove_cmd
        ->add_option("--duration", flags.duration,
                     "Time limit for reaching the target and measuring, 1s .. 1d")
        ->capture_default_str()
        ->type_name("DURATION");
    prove_cmd->add_flag("--json", flags.json, "Print the report as one JSON object instead of a table");
    prove_cmd->add_flag(
        "--against-go", flags.against_go,
        "Then run the Go peer (bench/peers/go) with the same tasks, workload, threads and "
        "duration, and add a go column (--json: a \"go\" object); needs `go` (apt-get install "
        "golang-go) unless --go-peer is given");
    prove_cmd
        ->add_option("--go-peer", flags.go_peer,
                     "With --against-go: a built Go peer to run instead of building one into "
                     "$XDG_CACHE_HOME/corostorm (or ~/.cache/corostorm)")
        ->type_name("PATH");
    prove_cmd->footer(
        "-c FILE and --set KEY=VALUE build the config as for run; then its scenario is replaced by one\n"
        "stage {tasks: N, over: 0s} and its workloads by one of --workload's kind, which keeps the\n"
        "parameters of the config's first workload of that kind (or the defaults).\n"
        "Progress goes to stderr, the report to stdout.\n"
        "Exit codes: 0 target reached and measured (with --against-go: on both sides), 1 not\n"
        "reached (time limit, no memory, interrupted, the Go peer failed), 2 bad usage or config.\n"
        "Example: corostorm prove --tasks 10M --workload sleep --engine lean --threads 2\n"
        "         corostorm prove --tasks 1M --threads 1 --against-go");
    // A flag given twice is refused, as a repeated option already is (CLI11 would let the
    // last one win).
    for (auto* flag : {prove_cmd->get_option("--json"), prove_cmd->get_option("--against-go")}) {
        flag->multi_option_policy(CLI::MultiOptionPolicy::Throw);
    }
    return prove_cmd;
}

prove_options parse_prove_flags(const prove_flags& flags) {
    prove_options out;
    const auto tasks = config::parse_count(flags.tasks);
    if (!tasks || *tasks < 1 || *tasks > prove_max_tasks) {
        throw usage_error(
            fmt::format("--tasks: must be a count between 1 and {} (like 100k or 10M), got \"{}\"",
                        config::format_count(prove_max_tasks), flags.tasks));
    }
    out.tasks = *tasks;
    out.workload = parse_choice("--workload", flags.workload, config::all_workload_kinds);
    if (!flags.engine.empty()) out.engine = parse_choice("--engine", flags.engine, config::all_engine_kinds);
    if (!flags.threads.empty()) {
        unsigned threads = 0;
        const char* const first = flags.threads.data();
        const char* const last = first + flags.threads.size();
        const auto [end, ec] = std::from_chars(first, last, threads);
        if (ec != std::errc{} || end != last || threads > 1024) {
            throw usage_error(fmt::format(
                "--threads: must be between 0 and 1024 (0 = the CPUs available to the process), got \"{}\"",
                flags.threads));
        }
        out.threads = threads;
    }
    const auto duration = config::parse_duration(flags.duration);
    if (!duration || *duration < prove_min_duration || *duration > prove_max_duration) {
        throw usage_error(
            fmt::format("--duration: must be a duration between {} and {} (like 30s or 5m), got \"{}\"",
                        config::format_duration(prove_min_duration),
                        config::format_duration(prove_max_duration), flags.duration));
    }
    out.duration = *duration;
    out.json = flags.json;
    out.against_go = flags.against_go;
    out.go_peer = flags.go_peer;
    if (!out.go_peer.empty() && !out.against_go) {
        throw usage_error("--go-peer: only with --against-go");
    }
    return out;
}

config::config make_prove_config(const config::config& base, const prove_options& options) {
    config::config cfg = base;
    if (options.engine) cfg.runtime.engine = *options.engine;
    if (options.threads) cfg.runtime.threads = *options.threads;

    config::workload_config workload;
    workload.kind = options.workload;
    const auto same_kind = std::find_if(base.workloads.begin(), base.workloads.end(),
                                        [&](const auto& w) { return w.kind == options.workload; });
    if (same_kind != base.workloads.end()) workload = *same_kind;
    workload.name = std::string(config::to_string(options.workload));
    workload.weight = 1;
    cfg.workloads = {workload};

    cfg.scenario.repeat = false;
    cfg.scenario.stages = {config::stage_config{.name = "prove", .tasks = options.tasks, .over = 0s}};

    // Rings and trees are spawned whole: the target must be a number of them.
    const std::uint64_t unit = tasks_per_unit(workload);
    if (unit > 1 && options.tasks % unit != 0) {
        const bool ring = options.workload == config::workload_kind::ring;
        const std::string what =
            ring ? fmt::format("rings of {} tasks (ring_size)", group_digits(unit))
                 : fmt::format("trees of {} tasks (fanout {}, depth {})", group_digits(unit),
                               workload.spawn_tree.fanout, workload.spawn_tree.depth);
        const std::uint64_t below = options.tasks / unit * unit;
        const std::string suggestion =
            below == 0 ? group_digits(unit)
                       : fmt::format("{} or {}", group_digits(below), group_digits(below + unit));
        const std::string example = ring ? "{name: r, kind: ring, ring_size: 10}"
                                         : "{name: t, kind: spawn_tree, fanout: 4, depth: 4}";
        throw usage_error(fmt::format(
            "--tasks: workload {} runs whole {}; ask for a multiple of {}, e.g. {}, got {}; another {} "
            "comes from the config, e.g. --set 'workloads[0]={}'",
            workload.name, what, group_digits(unit), suggestion, group_digits(options.tasks),
            ring ? "ring size" : "tree", example));
    }
    return cfg;
}

}  // namespace corostorm::prove
