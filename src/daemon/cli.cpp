#include "daemon/cli.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "config/config.h"
#include "daemon/daemon.h"
#include "daemon/logging.h"

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
        "  corostorm check-config -c config/corostorm.yaml");

    std::string file;
    std::vector<std::string> sets;
    app.add_option("-c,--config", file, "YAML config file (default: built-in defaults)")
        ->check(CLI::ExistingFile);
    app.add_option("--set", sets,
                   "Override one config key: KEY=VALUE, e.g. runtime.threads=1 or "
                   "scenario.stages[0].tasks=5M (repeatable)");
    auto* run_cmd = app.add_subcommand("run", "Run the daemon (the default)");
    auto* check_cmd =
        app.add_subcommand("check-config", "Validate the config and print the effective config");
    for (auto* sub : {run_cmd, check_cmd}) sub->fallthrough();
    app.require_subcommand(0, 1);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);  // --help, --version
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return exit_usage;
    }

    config::config cfg;
    try {
        cfg = load(file, sets);
    } catch (const config::config_error& e) {
        std::cerr << "corostorm: " << e.what() << "\n";
        return exit_usage;
    }

    // The shared layout is part of the config contract but not of this build:
    // refuse it like any other invalid value rather than run something else.
    if (cfg.runtime.layout == config::layout_kind::shared) {
        std::cerr
            << "corostorm: runtime.layout: shared is not available in this version; allowed: per_thread, "
               "got \"shared\"\n";
        return exit_usage;
    }

    if (*check_cmd) {
        std::cout << config::to_yaml(cfg);
        std::cerr << "corostorm: " << (file.empty() ? std::string("built-in defaults") : file)
                  << ": config is valid\n";
        return exit_ok;
    }

    setup_logging(cfg.log);
    int code = exit_runtime;
    try {
        code = run(cfg);
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        code = exit_runtime;
    }
    shutdown_logging();
    return code;
}

}  // namespace corostorm::daemon
