#!/usr/bin/env bash
# Shutdown with many tasks alive: SIGTERM with 10M live tasks drains every
# one and exits 0 within the documented bound (README, Signals: about a second per
# 10M sleepers; drain_timeout, 30 s, at most), and a second SIGTERM during
# the drain exits at once with status 1.
#
# usage: shutdown_test.sh BIN
# Environment: COROSTORM_SANITIZED=1 for a sanitizer build: 1M tasks (its
# allocator makes 10M too heavy), the same checks.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary_arg "BIN" "$@"
require_tools curl awk grep

e2e_init
if [[ ${COROSTORM_SANITIZED:-} == 1 ]]; then TASKS=1000000; else TASKS=10000000; fi
readonly DRAIN_BOUND=30  # drain_timeout in src/daemon/assembly.h
METRICS=$E2E_TMP/metrics.txt

live_is() {
    http_get "$BASE_URL/metrics"
    [[ $HTTP_STATUS == 200 ]] && cp "$HTTP_BODY_FILE" "$METRICS" &&
        [[ $(metric_value "$METRICS" corostorm_tasks_live workload=idle) == "$1" ]]
}
# A long period: the tasks sleep through the test, as idle connections do.
start_holding() {
    start_daemon "$BIN" run --set server.listen=127.0.0.1:0 --set runtime.threads=2 \
        --set "scenario.stages[0].tasks=$TASKS" --set 'scenario.stages[0].over=2s' \
        --set 'workloads[0].period=100s' --set memory.limit=none
    poll_until 120 live_is "$TASKS" || die "live never reached $TASKS"
}
draining() { grep -q 'draining tasks' "$DAEMON_LOG"; }

# ------------------------------------------------------------- SIGTERM ----
start_holding
ok "$TASKS tasks alive (pid $DAEMON_PID)"
t0=$(date +%s%N)
stop_and_wait "$DAEMON_PID" TERM $((DRAIN_BOUND + 15))
took_ms=$((($(date +%s%N) - t0) / 1000000))
[[ $STOP_RC == 0 ]] && ok "SIGTERM: exit 0 after ${took_ms} ms" || not_ok "exit $STOP_RC after SIGTERM, want 0"
((took_ms <= DRAIN_BOUND * 1000)) || not_ok "took ${took_ms} ms, above the ${DRAIN_BOUND} s bound"
grep -q 'drained every task in' "$DAEMON_LOG" && ok "$(grep -o 'drained every task in [0-9.]* s' "$DAEMON_LOG")" ||
    not_ok "no 'drained every task' line: the drain did not finish"

# ------------------------------------------------ SIGTERM, then another ----
start_holding
kill -TERM "$DAEMON_PID"
poll_until 10 draining || die "no 'draining tasks' line after SIGTERM"
t0=$(date +%s%N)
stop_and_wait "$DAEMON_PID" TERM 5
took_ms=$((($(date +%s%N) - t0) / 1000000))
if grep -q 'drained every task in' "$DAEMON_LOG"; then
    # The drain won the race: nothing left to cut short. Say so rather than pass.
    not_ok "the drain ended before the second SIGTERM arrived; cannot check the second signal"
else
    [[ $STOP_RC == 1 ]] && ok "second SIGTERM during the drain: exit 1 after ${took_ms} ms" ||
        not_ok "exit $STOP_RC after the second SIGTERM, want 1"
    grep -q 'second signal, exiting without draining' "$DAEMON_LOG" && ok "and it says so" ||
        not_ok "no 'second signal' line"
fi

# ------------------------------------- the log's reader goes away early ----
# `run ... 2>&1 | head -1`: the reader of stderr exits after a few bytes; the
# daemon must go on (a write to a closed pipe fails, SIGPIPE is ignored) and
# still drain on SIGTERM.
"$BIN" run --set server.listen=127.0.0.1:0 --set 'scenario.stages[0].tasks=1000' --set memory.limit=none \
    2> >(head -c 20 >/dev/null) &
PIPED_PID=$!
sleep 1
kill -HUP "$PIPED_PID"  # makes it log a line ("nothing to reload") into the closed pipe
sleep 1
pid_alive "$PIPED_PID" && ok "stderr's reader gone: the daemon keeps running" || not_ok "the daemon died with its log pipe"
stop_and_wait "$PIPED_PID" TERM 30
((STOP_RC == 0)) && ok "and SIGTERM still drains to exit 0" || not_ok "exit $STOP_RC after SIGTERM with a closed log pipe"

e2e_finish
