#include "daemon/signals.h"

#include <pthread.h>
#include <unistd.h>

#include <cstdlib>
#include <initializer_list>
#include <string_view>

namespace corostorm::daemon {

sigset_t held_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (const int signo : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&set, signo);
    return set;
}

void hold_signals() {
    const sigset_t set = held_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void release_signals() {
    const sigset_t set = held_signals();
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void exit_on_second_signal(bool new_line) noexcept {
    constexpr std::string_view msg = "\ncorostorm: second signal, exiting without draining\n";
    const std::string_view text = new_line ? msg : msg.substr(1);
    [[maybe_unused]] const auto n = ::write(STDERR_FILENO, text.data(), text.size());
    std::_Exit(1);
}

}  // namespace corostorm::daemon
