#!/usr/bin/env bash
# Signals at any moment, against the real binary (README: Signals):
# - SIGTERM/SIGINT from main's first line on (while a 1 MiB config is read, while
#   the pool is built) drain and exit 0 instead of taking the default action;
# - SIGHUP that early is a reload, the daemon comes up and serves;
# - SIGUSR1/SIGUSR2 are logged and ignored, early or late;
# - exactly one thread of the running daemon takes the signals (the control thread);
# - prove: an early SIGTERM ends the run with its report and exit 1, not a kill.
#
# "From main's first line": the test waits until the process has blocked SIGTERM
# (SigBlk in /proc/PID/status) and signals at once or after a delay. Before that the
# dynamic loader runs (about 3 ms here), where no program can hold a signal.
#
# usage: signals_test.sh BIN
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary_arg "BIN" "$@"
require_tools curl awk grep

e2e_init

# A valid config of about 1 MiB: reading it takes long enough (tens to hundreds of
# milliseconds) for signals to land inside the load.
BIG=$E2E_TMP/big.yaml
{
    echo 'server: {listen: "127.0.0.1:0"}'
    echo 'memory: {limit: none}'
    echo 'scenario: {stages: [{name: hold, tasks: 100k, over: 0s}]}'
    for ((i = 0; i < 12000; ++i)); do
        echo "# padding line $i: the loader reads every byte of a config, comments too ......"
    done
} >"$BIG"
ok "config of $(($(stat -c %s "$BIG") / 1024)) KiB"

# ready PID: true once PID holds SIGTERM blocked (bit 15 of SigBlk: main's first
# line) or catches it (SigCgt: a command's handlers, installed before it releases
# the held signals), so a signal sent now is neither lost nor fatal. Builtins
# only: a poll that forks would be slower than what it watches.
ready() {
    local key value
    while read -r key value; do
        [[ $key == SigBlk: || $key == SigCgt: ]] && (((0x$value >> 14) & 1)) && return 0
    done <"/proc/$1/status" 2>/dev/null
    return 1
}
# signal_early SIG DELAY_MS NAME CMD...: starts CMD; once the binary runs (exec done,
# so the signal cannot hit the shell's child before it), waits until it is ready for them,
# sleeps DELAY_MS and sends SIG. Sets BG_PID and BG_LOG. A binary that is not ready
# them within 10 s fails here: under a sanitizer on a loaded machine the way from exec
# to main() alone can take longer than any short allowance, and a signal sent before
# main() says nothing about the daemon (an asynchronous command of a script even starts
# with SIGINT ignored).
signal_early() {
    local sig=$1 delay_ms=$2 name=$3
    shift 3
    start_bg "$name" "$@"
    local deadline=$((SECONDS + 10))
    until [[ /proc/$BG_PID/exe -ef $1 ]] || ((SECONDS >= deadline)); do :; done
    deadline=$((SECONDS + 10))
    until ready "$BG_PID" || ! [[ -e /proc/$BG_PID/status ]] || ((SECONDS >= deadline)); do :; done
    ready "$BG_PID" || not_ok "$name: the binary neither held nor caught SIGTERM within 10 s of exec"
    ((delay_ms == 0)) || sleep "$(printf '0.%03d' "$delay_ms")"
    kill -"$sig" "$BG_PID" 2>/dev/null || true
}

# ------------------------------------------- SIGTERM/SIGINT from main on ----
for delay_ms in 0 0 1 2 5 10 20 50 100 200 400; do
    signal_early TERM "$delay_ms" "term-$delay_ms" "$BIN" run -c "$BIG"
    if wait_pid_exit "$BG_PID" 60; then reap "$BG_PID"; rc=$REAP_RC; else kill_and_reap "$BG_PID"; rc=124; fi
    if ((rc == 0)) && grep -q 'draining tasks' "$BG_LOG"; then
        ok "SIGTERM ${delay_ms} ms after main: drained, exit 0"
    else
        not_ok "SIGTERM ${delay_ms} ms after main: exit $rc (143 = killed by the default action)"
        tail -n 5 "$BG_LOG"
    fi
done
signal_early INT 0 int "$BIN" run -c "$BIG"
stop_and_wait "$BG_PID" 0 60
((STOP_RC == 0)) && grep -q 'draining tasks' "$BG_LOG" && ok "SIGINT at once: drained, exit 0" ||
    not_ok "SIGINT at once: exit $STOP_RC (130 = killed by the default action)"

# ------------------------------------------------- SIGHUP, SIGUSR1/2 early ----
E2E_DAEMONS=$((E2E_DAEMONS + 1))
signal_early HUP 0 early-hup "$BIN" run -c "$BIG"
kill -USR1 "$BG_PID" 2>/dev/null || true
kill -USR2 "$BG_PID" 2>/dev/null || true
DAEMON_PID=$BG_PID
DAEMON_LOG=$BG_LOG
wait_for_listen "$DAEMON_LOG" "$DAEMON_PID" 60
BASE_URL=http://127.0.0.1:$PORT
ok "SIGHUP, SIGUSR1 and SIGUSR2 at once: the daemon came up"
poll_until 10 grep -q "reload: $BIG read again" "$DAEMON_LOG" && ok "the early SIGHUP was a reload" ||
    not_ok "no 'reload: $BIG read again' line after the early SIGHUP"
for sig in USR1 USR2; do
    poll_until 10 grep -q "received SIG$sig: ignored" "$DAEMON_LOG" && ok "the early SIG$sig was logged and ignored" ||
        not_ok "no 'received SIG$sig: ignored' line"
done

# -------------------------------------------------- while it runs --------
kill -USR1 "$DAEMON_PID"
poll_until 10 eval '[[ $(grep -c "received SIGUSR1: ignored" "$DAEMON_LOG") == 2 ]]' &&
    ok "a second SIGUSR1 while running: logged and ignored" || not_ok "the second SIGUSR1 was not logged"
status_is 200 "$BASE_URL/healthz" && ok "/healthz 200 after SIGUSR1 and SIGUSR2" || not_ok "/healthz $HTTP_STATUS"

# Every thread but one blocks the signals; that one is the control thread, where
# asio's signal_set acts on them.
takers=0
threads=0
for status in /proc/"$DAEMON_PID"/task/*/status; do
    threads=$((threads + 1))
    mask=$(awk '/^SigBlk:/ {print $2}' "$status" 2>/dev/null) || continue
    (((0x$mask >> 14) & 1)) || takers=$((takers + 1))
done
((takers == 1)) && ok "one of $threads threads takes SIGTERM" || not_ok "$takers of $threads threads take SIGTERM, want 1"

stop_and_wait "$DAEMON_PID" TERM 30
((STOP_RC == 0)) && ok "SIGTERM: exit 0" || not_ok "exit $STOP_RC after SIGTERM"

# ------------------------------------------------------------- prove ------
# Interrupted while it reads its config: it ends with its report (exit 1) instead of
# dying of the signal (143). A stray SIGUSR1 changes nothing.
signal_early TERM 0 prove-term "$BIN" prove -c "$BIG" --tasks 100k --threads 1 --json
stop_and_wait "$BG_PID" 0 60
((STOP_RC == 1)) && grep -q '"reason": "interrupted' "$BG_LOG" && ok "prove, SIGTERM at once: its report says interrupted, exit 1" ||
    not_ok "prove, SIGTERM at once: exit $STOP_RC, report: $(grep -o '"reason": "[^"]*"' "$BG_LOG" || echo none)"
signal_early USR1 0 prove-usr1 "$BIN" prove --tasks 10k --threads 1 --duration 2s
stop_and_wait "$BG_PID" 0 60
((STOP_RC == 0)) && ok "prove, SIGUSR1 at once: ignored, exit 0" || not_ok "prove, SIGUSR1 at once: exit $STOP_RC (138 = killed)"

e2e_finish
