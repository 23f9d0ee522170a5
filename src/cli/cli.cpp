#include "cli/cli.h"

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
#include "prove/peer.h"
#include "prove/prove.h"
#include "daemon/signals.h"

namespace corostorm::cli {

using daemon::hold_signals;
using daemon::oversubscribed_threads;
using daemon::release_signals;
using daemon::run;
using daemon::setup_logging;
using daemon::shutdown_logging;
using daemon::starved_workloads;
using daemon::worker_threads;
using prove::go_peer;
using prove::locate_go_peer;
using prove::make_prove_config;
using prove::parse_prove_flags;
using prove::prove_flags;
using prove::prove_options;
using prove::usage_error;

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
    auto* prove_cmd = prove::add_prove_command(app, pflags);
    for (auto* sub : {run_cmd, check_cmd, prove_cmd}) sub->fallthrough();
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
        code = *prove_cmd ? prove::prove(cfg, proving, peer ? &*peer : nullptr) : run(cfg, {file, sets});
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        code = exit_runtime;
    }
    shutdown_logging();
    return code;
}

}  // namespace corostorm::cli
