#include "daemon/cli.h"

#include "daemon/assembly.h"
#include "guard/fd_budget.h"
#include "guard/memory_guard.h"
#include "metrics/probes.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "config/config.h"
#include "daemon/daemon.h"
#include "daemon/logging.h"
#include "daemon/peer.h"
#include "daemon/prove.h"
#include "daemon/signals.h"

namespace corostorm::daemon {

namespace {

constexpr int exit_ok = 0;
constexpr int exit_runtime = 1;
constexpr int exit_usage = 2;

config::config load(const std::string& file, const std::vector<std::string>& sets) {
    std::vector<config::override_entry> overrides;
    for (const auto& s : sets) overrides.push_back(config::parse_override(s));
    return file.empty() ? config::load_defaults(overrides) : config::load_file(file, overrides);
}

}  // namespace

int main_entry(int argc, char** argv) {
    // A reader of the log or of prove's output that goes away (`| head`, a
    // restarting log shipper) must end in a failed write, not kill the
    // process: ignored before any thread exists, so every thread inherits it.
    std::signal(SIGPIPE, SIG_IGN);
    hold_signals();
    CLI::App app{
        "corostorm: holds millions of stackless C++20 coroutines on a Boost.Asio io_context pool and "
        "exports what each one costs (memory per task, scheduling latency) as Prometheus metrics.",
        "corostorm"};
    app.set_version_flag("--version", std::string("corostorm ") + COROSTORM_VERSION + " (Boost " +
                                          COROSTORM_BOOST_VERSION + ")");
    app.footer(
        "Exit codes: 0 ok, 2 bad usage or config, 1 runtime failure.\n"
        "Examples:\n"
        "  corostorm -c config/corostorm.yaml\n"
        "  corostorm -c config/corostorm.yaml --set runtime.threads=1 --set scenario.stages[0].tasks=5M\n"
        "  corostorm check-config -c config/corostorm.yaml\n"
        "  corostorm prove --tasks 10M --workload sleep --engine lean");

    std::string file;
    std::vector<std::string> sets;
    // The environment variable lets a container image name its config once
    // (ENV), so that `docker run IMAGE --set KEY=VALUE` still reads that file.
    app.add_option("-c,--config", file,
                   "YAML config file (default: $COROSTORM_CONFIG if set, else built-in defaults)");
    app.add_option("--set", sets,
                   "Override one config key: KEY=VALUE, e.g. runtime.threads=1 or "
                   "scenario.stages[0].tasks=5M (repeatable)");
    auto* run_cmd = app.add_subcommand("run", "Run the daemon (the default)");
    auto* check_cmd =
        app.add_subcommand("check-config", "Validate the config and print the effective config");
    prove_flags pflags;
    auto* prove_cmd = app.add_subcommand(
        "prove",
        "One-shot run without a server: spawn --tasks tasks as fast as the workers can, measure for up to "
        "5 s, drain, print a report (a table, or --json) and exit");
    prove_cmd->add_option("--tasks", pflags.tasks, "Tasks to reach: a count like 100k or 10M (1 .. 10G)")
        ->required()
        ->type_name("COUNT");
    prove_cmd
        ->add_option("--workload", pflags.workload,
                     "What the tasks do: " + config::names_of(config::all_workload_kinds))
        ->capture_default_str()
        ->type_name("KIND");
    prove_cmd->add_option("--engine", pflags.engine, "lean or asio (default: runtime.engine of the config)")
        ->type_name("ENGINE");
    prove_cmd
        ->add_option("--threads", pflags.threads,
                     "Worker threads, 0 .. 1024, 0 = the CPUs available (default: runtime.threads)")
        ->type_name("N");
    prove_cmd
        ->add_option("--duration", pflags.duration,
                     "Time limit for reaching the target and measuring, 1s .. 1d")
        ->capture_default_str()
        ->type_name("DURATION");
    prove_cmd->add_flag("--json", pflags.json, "Print the report as one JSON object instead of a table");
    prove_cmd->add_flag(
        "--against-go", pflags.against_go,
        "Then run the Go peer (bench/peers/go) with the same tasks, workload, threads and "
        "duration, and add a go column (--json: a \"go\" object); needs `go` (apt-get install "
        "golang-go) unless --go-peer is given");
    prove_cmd
        ->add_option("--go-peer", pflags.go_peer,
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
    for (auto* sub : {run_cmd, check_cmd, prove_cmd}) sub->fallthrough();
    // A flag given twice is refused, as a repeated option already is (CLI11 would let the
    // last one win); only --set repeats.
    for (auto* flag : {prove_cmd->get_option("--json"), prove_cmd->get_option("--against-go")}) {
        flag->multi_option_policy(CLI::MultiOptionPolicy::Throw);
    }
    app.require_subcommand(0, 1);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);  // --help, --version
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return exit_usage;
    }

    bool file_from_env = false;
    if (file.empty()) {
        if (const char* env = std::getenv("COROSTORM_CONFIG"); env != nullptr && *env != '\0') {
            file = env;
            file_from_env = true;
        }
    }

    prove_options proving;
    config::config cfg;
    std::optional<go_peer> peer;
    try {
        if (*prove_cmd) proving = parse_prove_flags(pflags);
        cfg = load(file, sets);
        if (*prove_cmd) cfg = make_prove_config(cfg, proving);
        // What the limits resolve to here (a cgroup, MemTotal, ulimit -v) can leave no room
        // that a config file could not know about.
        if (const auto problem =
                guard::no_room_problem(guard::resolve_memory_limit(cfg.memory), cfg.memory)) {
            throw config::config_error(*problem);
        }
        // Before anything runs: a missing `go` is a usage error that says how to install it.
        if (*prove_cmd && proving.against_go) peer = locate_go_peer(cfg, proving.go_peer);
    } catch (const config::config_error& e) {
        // Which of the two named the file: the variable always (the user may not know it is
        // set), the flag where the message is about the file itself (cannot open, a directory).
        const char* named_by =
            file_from_env ? " (file named by COROSTORM_CONFIG)"
            : !file.empty() && std::string_view(e.what()).starts_with(config::shown_path(file))
                ? " (--config)"
                : "";
        std::cerr << "corostorm: " << e.what() << named_by << "\n";
        return exit_usage;
    } catch (const usage_error& e) {
        std::cerr << "corostorm prove: " << e.what() << "\n";
        return exit_usage;
    }

    if (*check_cmd) {
        release_signals();  // no handlers: a signal ends check-config the default way
        std::cout << config::to_yaml(cfg);
        std::cerr << "corostorm: "
                  << (file.empty() ? std::string("built-in defaults") : config::shown_path(file))
                  << ": config is valid\n";
        for (const auto& line : starved_workloads(cfg)) std::cerr << "corostorm: warning: " << line << "\n";
        if (const auto warning = oversubscribed_threads(cfg, metrics::available_cpus()); !warning.empty()) {
            std::cerr << "corostorm: warning: " << warning << "\n";
        }
        // What `run` would cap, with this process's descriptor limits.
        const auto plan = guard::plan_fds(cfg, worker_threads(cfg), guard::raise_fd_limit(),
                                          metrics::read_process_stats().open_fds);
        if (const auto demand = guard::demand_of(cfg, guard::peak_targets(cfg), plan); demand.capped()) {
            std::cerr << "corostorm: warning: " << guard::describe_cap(demand, plan) << "\n";
        }
        return exit_ok;
    }

    config::log_config log = cfg.log;
    // prove's output is its progress and its report: only warnings and errors are logged.
    if (*prove_cmd && log.level < config::log_level::warn) log.level = config::log_level::warn;
    setup_logging(log);
    int code = exit_runtime;
    try {
        code = *prove_cmd ? prove(cfg, proving, peer ? &*peer : nullptr) : run(cfg, {file, sets});
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        code = exit_runtime;
    }
    shutdown_logging();
    return code;
}

}  // namespace corostorm::daemon
