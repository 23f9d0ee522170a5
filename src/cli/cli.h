// The command line: parses arguments, loads the config, dispatches to the
// daemon, check-config or prove, and turns every failure into an exit code
// (0 ok, 2 bad usage or config, 1 runtime failure). main() only calls this.
#pragma once

namespace corostorm::cli {

int main_entry(int argc, char** argv);

}  // namespace corostorm::cli
