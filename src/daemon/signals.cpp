#include "daemon/signals.h"

#include <pthread.h>

#include <initializer_list>

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

}  // namespace corostorm::daemon
