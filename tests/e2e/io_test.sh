#!/usr/bin/env bash
# The I/O workloads against the real binary: echo and rpc run side by side,
# their series are exported, a stage that drops echo to 0 closes its
# connections (the descriptor count returns to what it was before the first
# spawn, plus the listeners), a low descriptor limit caps echo with a clear
# log line, /status entry and spawn_denied_total{reason="fds"} instead of
# failing, check-config says so in advance, and SIGTERM drains to exit 0.
#
# usage: io_test.sh BIN
# Environment: COROSTORM_SANITIZED=1 for a sanitizer build (slower).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary_arg "BIN" "$@"
require_tools curl jq awk grep sed

e2e_init
readonly TIMEOUT=60
CONFIG=$E2E_TMP/corostorm.yaml
STATUS=$E2E_TMP/status.json
METRICS=$E2E_TMP/metrics.txt

# write_config ECHO_TASKS_STAGE1 ECHO_TASKS_STAGE2 [ENGINE]: echo alone, two stages.
write_echo_config() {
    cat >"$CONFIG" <<YAML
server: { listen: "127.0.0.1:0" }
runtime: { threads: 2, engine: ${3:-lean} }
scenario:
  stages:
    - { name: up, tasks: $1, over: 1s }
    - { name: hold, over: 4s }
    - { name: down, tasks: $2, over: 1s }
    - { name: rest, over: 10m }
workloads:
  - { name: conns, kind: echo, period: 50ms, message: 100B }
YAML
}
read_status() {
    http_get "$BASE_URL/status"
    [[ $HTTP_STATUS == 200 ]] && cp "$HTTP_BODY_FILE" "$STATUS" && jq -e . "$STATUS" >/dev/null
}
sj() { jq -r "$1" "$STATUS"; }
scrape() {
    http_get "$BASE_URL/metrics"
    [[ $HTTP_STATUS == 200 ]] && cp "$HTTP_BODY_FILE" "$METRICS"
}
metric() { metric_value "$METRICS" "$@"; }
fds_of() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# ------------------------------------------ echo and rpc side by side ----
for engine in lean asio; do
    echo "# echo and rpc on the $engine engine"
    cat >"$CONFIG" <<YAML
server: { listen: "127.0.0.1:0" }
runtime: { threads: 2, engine: $engine }
scenario:
  stages:
    - { name: up, tasks: 2400, over: 1s }
    - { name: hold, over: 10m }
workloads:
  - { name: conns, kind: echo, weight: 1, period: 50ms, message: 100B }
  - { name: calls, kind: rpc, weight: 5, period: 100ms, message: 64B, connections: 4 }
YAML
    start_daemon "$BIN" run -c "$CONFIG"
    both_up() {
        scrape && [[ $(metric corostorm_tasks_live workload=conns) == 400 &&
                     $(metric corostorm_tasks_live workload=calls) == 2000 &&
                     $(metric corostorm_connections_live workload=conns) == 200 &&
                     $(metric corostorm_connections_live workload=calls) == 4 ]]
    }
    poll_until "$TIMEOUT" both_up && ok "$engine: 200 echo connections (400 tasks) and 2000 rpc callers over 4 connections" ||
        not_ok "$engine: live $(grep -E '^corostorm_(tasks_live|connections_live)' "$METRICS" | tr '\n' ' ')"
    a=$(metric corostorm_io_round_trip_seconds_count workload=calls)
    sleep 2
    scrape
    b=$(metric corostorm_io_round_trip_seconds_count workload=calls)
    # 2000 callers, a call each per 100 ms: 20k calls/s asked; at least a quarter
    # even under sanitizers, never more than asked.
    rate=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.0f", (b - a) / 2 }')
    num_between "$rate" 5000 24000 && ok "$engine: rpc keeps up: $rate calls/s of 20000 asked" ||
        not_ok "$engine: rpc made $rate calls/s, 20000 asked"
    num_cmp "$(metric corostorm_io_round_trip_seconds_count workload=conns)" '>' 0 &&
        ok "$engine: echo round trips recorded" || not_ok "$engine: no echo round trip"
    [[ $(metric corostorm_tasks_completed_total workload=conns outcome=error) == 0 &&
       $(metric corostorm_tasks_completed_total workload=calls outcome=error) == 0 ]] &&
        ok "$engine: no task ended with an error" || not_ok "$engine: errors: $(grep 'outcome="error"' "$METRICS" | tr '\n' ' ')"
    metric corostorm_memory_per_task_bytes method=kernel >/dev/null &&
        metric corostorm_memory_growth_bytes method=kernel >/dev/null &&
        ok "$engine: memory per task and growth, method kernel, exported" || not_ok "$engine: no method=kernel series"
    metric corostorm_schedule_latency_seconds_count workload=calls source=io >/dev/null &&
        ok "$engine: source=io latency exported" || not_ok "$engine: no source=io series"
    read_status
    [[ $(sj .workloads.conns.connections) == 200 && $(sj '.workloads.calls.round_trip_seconds.count') -gt 0 ]] &&
        ok "$engine: /status has connections and round-trip quantiles" || not_ok "$engine: /status $(sj .workloads.calls)"
    stop_and_wait "$DAEMON_PID" TERM 30
    ((STOP_RC == 0)) && ok "$engine: SIGTERM drains and exits 0" || not_ok "$engine: exit status $STOP_RC"
    no_crash_reports "$DAEMON_LOG" || not_ok "$engine: crash report in the log"
done

# ------------------------- a stage down to 0 closes every connection ----
echo "# echo down to 0 closes its sockets"
write_echo_config 400 0
start_daemon "$BIN" run -c "$CONFIG"
# What was open before the first spawn, as the daemon counted it.
baseline=$(sed -n 's/.*descriptors: limit [0-9]*, \([0-9]*\) open.*/\1/p' "$DAEMON_LOG" | head -n 1)
is_number "$baseline" || die "no 'descriptors: limit N, M open' line in the log"
conns_are() { scrape && [[ $(metric corostorm_connections_live workload=conns) == "$1" ]]; }
poll_until "$TIMEOUT" conns_are 200 && ok "200 connections up ($(fds_of "$DAEMON_PID") descriptors open, $baseline before)" ||
    not_ok "connections: $(metric corostorm_connections_live workload=conns)"
poll_until "$TIMEOUT" conns_are 0 && ok "stage down: 0 connections" || not_ok "connections stay at $(metric corostorm_connections_live workload=conns)"
# The 2 workers' 4 listeners each stay open for the next stage, and the HTTP server's
# spare descriptor (kept for a scraper at the limit) is opened when it starts serving.
fds_back() { (($(fds_of "$DAEMON_PID") <= baseline + 8 + 1)); }
poll_until 10 fds_back && ok "descriptors back to $(fds_of "$DAEMON_PID") (before the first spawn: $baseline, + 8 listeners + 1 spare)" ||
    not_ok "$(fds_of "$DAEMON_PID") descriptors open, $baseline before the first spawn"
scrape
[[ $(metric corostorm_tasks_completed_total workload=conns outcome=error) == 0 ]] && ok "no error outcome" ||
    not_ok "errors: $(metric corostorm_tasks_completed_total workload=conns outcome=error)"
stop_and_wait "$DAEMON_PID" TERM 30
((STOP_RC == 0)) && ok "SIGTERM: exit 0" || not_ok "exit status $STOP_RC"

# ---------------------------------------------- a low descriptor limit ----
echo "# ulimit -n 700: echo is capped, never fails"
write_echo_config 4000 4000
"$BIN" check-config -c "$CONFIG" >/dev/null 2>"$E2E_TMP/check.err" || not_ok "check-config failed"
(ulimit -n 700 && "$BIN" check-config -c "$CONFIG" >/dev/null 2>"$E2E_TMP/check.err")
grep -q 'warning: echo asks for 2000 connection(s) (4000 descriptors) but .* fit: the descriptor limit is 700' "$E2E_TMP/check.err" &&
    ok "check-config warns in advance: $(grep -o 'but [0-9]* fit' "$E2E_TMP/check.err")" || not_ok "check-config said: $(cat "$E2E_TMP/check.err")"
# bash lowers the limit and becomes the daemon (same pid).
start_daemon bash -c 'ulimit -n 700 && exec "$0" "$@"' "$BIN" run -c "$CONFIG"
capped() { scrape && num_cmp "$(metric corostorm_spawn_denied_total reason=fds)" '>' 0; }
poll_until "$TIMEOUT" capped && ok "spawn_denied_total{reason=fds} counts the capped turns" || not_ok "no denial counted"
read_status
fit=$(sj .descriptors.echo_connections_fit)
[[ $(sj .descriptors.capped) == true && $(sj .descriptors.limit) == 700 && $(sj .descriptors.echo_connections_asked) == 2000 &&
   $fit -gt 100 && $fit -lt 200 ]] &&
    ok "/status descriptors: capped, limit 700, 2000 asked, $fit fit" || not_ok "/status descriptors: $(sj .descriptors)"
sj .descriptors.message | grep -q 'Raise the hard limit' && ok "/status says how to raise it" || not_ok "no advice in /status"
grep -q 'warning descriptors: echo asks for 2000 connection(s)' "$DAEMON_LOG" && ok "the log says it once" || not_ok "no warning in the log"
settled() { scrape && [[ $(metric corostorm_connections_live workload=conns) == "$fit" ]]; }
poll_until "$TIMEOUT" settled && ok "$fit connections held, the most that fit" || not_ok "connections $(metric corostorm_connections_live workload=conns), $fit fit"
sleep 1
scrape
[[ $(metric corostorm_tasks_completed_total workload=conns outcome=error) == 0 ]] && ok "no connection failed on the way" ||
    not_ok "errors: $(metric corostorm_tasks_completed_total workload=conns outcome=error)"
status_is 200 "$BASE_URL/healthz" && ok "/healthz 200 at the limit" || not_ok "/healthz $HTTP_STATUS"
stop_and_wait "$DAEMON_PID" TERM 30
((STOP_RC == 0)) && ok "SIGTERM at the limit: exit 0" || not_ok "exit status $STOP_RC"
grep -q 'drained every task' "$DAEMON_LOG" && ok "drained" || not_ok "no drain line"
no_crash_reports "$DAEMON_LOG" || not_ok "crash report in the log"

# ----------------------------------------------------------------- prove ----
echo "# prove --workload echo and rpc"
for kind in echo rpc; do
    if "$BIN" prove --tasks 400 --workload "$kind" --threads 2 --duration 20s --json \
        --set "workloads[0]={name: w, kind: $kind, period: 50ms}" >"$E2E_TMP/prove.json" 2>"$E2E_TMP/prove.err"; then
        ok "prove $kind: exit 0"
    else
        not_ok "prove $kind: exit $?: $(tail -n 3 "$E2E_TMP/prove.err")"
    fi
    want=$([[ $kind == echo ]] && echo 200 || echo 16)
    jq -e --argjson c "$want" '.connections == $c and .io_round_trip.count > 0 and .round_trips_per_second > 0
        and .memory_per_task_bytes.kernel != null and .latency_seconds.io.count > 0' "$E2E_TMP/prove.json" >/dev/null &&
        ok "prove $kind --json: $want connections, round trips, kernel bytes, io latency" ||
        not_ok "prove $kind --json: $(jq -c '{connections, io_round_trip, round_trips_per_second, memory_per_task_bytes}' "$E2E_TMP/prove.json")"
done

e2e_finish
