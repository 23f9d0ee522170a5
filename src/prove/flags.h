// The flags of `corostorm prove`: declared on the command line, checked and
// turned into the options of a run, and the config the run uses (the user's,
// with the scenario and workloads replaced; prove/prove.h says how).
// Bad flags throw usage_error naming the flag, the value and what is allowed;
// the command line turns it into exit code 2. Nothing here runs anything.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "config/config.h"

namespace CLI {
class App;
}

namespace corostorm::prove {

// A bad flag: what() names the flag, the value and what is allowed (exit 2).
class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The flags as typed on the command line.
struct prove_flags {
    std::string tasks;  // required
    std::string workload = "sleep";
    std::string engine;   // empty: runtime.engine of the config
    std::string threads;  // empty: runtime.threads of the config
    std::string duration = "30s";
    bool json = false;
    bool against_go = false;
    std::string go_peer;  // a built peer; empty: build it from bench/peers/go
};

struct prove_options {
    std::uint64_t tasks = 0;
    config::workload_kind workload = config::workload_kind::sleep;
    std::optional<config::engine_kind> engine;
    std::optional<unsigned> threads;
    config::duration duration = std::chrono::seconds(30);
    bool json = false;
    bool against_go = false;
    std::string go_peer;
};

inline constexpr std::uint64_t prove_max_tasks = 10'000'000'000;  // as scenario.stages[].tasks
inline constexpr auto prove_min_duration = std::chrono::seconds(1);
inline constexpr auto prove_max_duration = std::chrono::hours(24);
inline constexpr auto prove_measure_window = std::chrono::seconds(5);

// The `prove` subcommand of `app` with its flags and help; parsing fills
// `flags`, which must outlive the parse.
CLI::App* add_prove_command(CLI::App& app, prove_flags& flags);

// Throws usage_error.
prove_options parse_prove_flags(const prove_flags& flags);

// `base` with the scenario and workloads replaced as prove/prove.h describes, and the
// engine and threads of the flags when given. The workload entry keeps the
// parameters of `base`'s first workload of the same kind, if there is one.
// Throws usage_error when --tasks is not a whole number of the workload's
// units (rings, trees).
config::config make_prove_config(const config::config& base, const prove_options& options);

}  // namespace corostorm::prove
