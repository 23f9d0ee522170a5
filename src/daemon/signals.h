#pragma once
// The signals corostorm gives a meaning, held pending until a command can act on them.
//
// Kubernetes and Docker send SIGTERM whenever they like, also while the process is still
// reading a large config (150 ms for 1 MiB) or building its pool. With the default action
// the process would die there without a drain, so main() holds SIGINT, SIGTERM, SIGHUP,
// SIGUSR1 and SIGUSR2 blocked from its first line; threads started later inherit the mask.
// Each command then releases them in one thread once it has its handlers:
//   run           asio::signal_set on the control thread (drain, reload, ignore USR1/USR2)
//   prove         sigaction handlers (end the run early, a second one exits)
//   check-config  no handlers: the default actions apply from then on
// A signal that came while held is delivered at the release, not lost.
#include <signal.h>

namespace corostorm::daemon {

// SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2.
sigset_t held_signals();
// Blocks held_signals() in the calling thread (main, before any thread exists).
void hold_signals();
// Unblocks them in the calling thread: pending ones are delivered now.
void release_signals();
// A second SIGINT/SIGTERM while the first one's drain runs: the user wants out now.
// Says so on stderr and exits with status 1 without running destructors.
// Async-signal-safe (prove calls it from its handler). `new_line`: end a progress line
// first.
[[noreturn]] void exit_on_second_signal(bool new_line = false) noexcept;

}  // namespace corostorm::daemon
