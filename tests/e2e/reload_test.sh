#!/usr/bin/env bash
# SIGHUP reloads the config file: live keys apply (stages, workload
# parameters, sampling, log level), restart-only keys keep their running
# values and are reported, an invalid file changes nothing and is counted as
# a failure, a storm of signals is harmless, and a daemon started without a
# file says there is nothing to reload.
#
# usage: reload_test.sh BIN
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

# write_config TASKS PERIOD THREADS SAMPLE LEVEL [EXTRA YAML LINE]
write_config() {
    cat >"$CONFIG" <<YAML
server: { listen: "127.0.0.1:0" }
log: { level: $5 }
runtime: { threads: $3 }
latency: { sample_every: $4 }
scenario:
  stages:
    - { name: ramp, tasks: $1, over: 1s }
    - { name: hold, over: 10m }
workloads:
  - { name: idle, kind: sleep, period: $2 }
${6:-}
YAML
}
read_status() {
    http_get "$BASE_URL/status"
    [[ $HTTP_STATUS == 200 ]] && cp "$HTTP_BODY_FILE" "$STATUS" && jq -e . "$STATUS" >/dev/null
}
sj() { jq -r "$1" "$STATUS"; }
live_is() { read_status && [[ $(sj .tasks.live) == "$1" ]]; }
metric() {
    http_get "$BASE_URL/metrics"
    cp "$HTTP_BODY_FILE" "$METRICS"
    metric_value "$METRICS" "$@"
}
reloads_are() { [[ $(metric corostorm_config_reloads_total result=success) == "$1" &&
                   $(metric corostorm_config_reloads_total result=failure) == "$2" ]]; }
# resume_rate SECONDS: resumes per second of workload idle over SECONDS.
resume_rate() {
    local a b t0 t1
    a=$(metric corostorm_task_resumes_total workload=idle)
    t0=$(date +%s.%N)
    sleep "$1"
    b=$(metric corostorm_task_resumes_total workload=idle)
    t1=$(date +%s.%N)
    awk -v a="$a" -v b="$b" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", (b - a) / (t1 - t0) }'
}

# ----------------------------------------------------------------- start ----
write_config 20k 1s 2 1 info
start_daemon "$BIN" run -c "$CONFIG"
ok "started on port $PORT with $CONFIG"
poll_until "$TIMEOUT" live_is 20000 || die "live never reached 20000 (last $(sj .tasks.live))"
before=$(resume_rate 2)
ok "20,000 sleepers at a 1 s period: $before resumes/s"

# ------------------------------------------- live keys, restart-only keys ----
# The [[ ]] checks run one after another; the first that fails names itself.
write_config 30k 100ms 1 10 info
kill -HUP "$DAEMON_PID"
poll_until 10 reloads_are 1 0 && ok "reload counted: success 1, failure 0" || not_ok "reload counters: $(grep reloads_total "$METRICS" | tr '\n' ' ')"
poll_until "$TIMEOUT" live_is 30000 && ok "the new stage target (30k) reached" || not_ok "live is $(sj .tasks.live), want 30000"
after=$(resume_rate 2)
# 30k tasks at 100 ms: 15x the first rate; ask for well over half of that.
if awk -v a="$after" -v b="$before" 'BEGIN { exit !(a > 8 * b) }'; then
    ok "period 1s -> 100ms applied to running tasks: $after resumes/s (was $before)"
else
    not_ok "resumes/s $after after the reload, $before before: the new period did not apply"
fi
read_status
[[ $(sj .config.threads) == 2 ]] && ok "runtime.threads stays 2 until a restart" || not_ok "threads is $(sj .config.threads)"
[[ $(sj .config.sample_every) == 10 ]] && ok "latency.sample_every 1 -> 10 applied" || not_ok "sample_every is $(sj .config.sample_every)"
[[ $(sj '.config.restart_needed | join(",")') == "runtime.threads (2 -> 1)" ]] &&
    ok "/status restart_needed: runtime.threads (2 -> 1)" || not_ok "restart_needed is $(sj .config.restart_needed)"
grep -q 'reload: runtime.threads (2 -> 1) needs a restart' "$DAEMON_LOG" &&
    ok "the log says runtime.threads needs a restart" || not_ok "no restart warning in the log"
grep -q 'reload: .* read again; applied: ' "$DAEMON_LOG" && ok "the log lists what was applied" || not_ok "no 'applied' line"

# --------------------------------------------------------- invalid files ----
# BAD: the sed script that breaks the file | what the logged error must name
BAD=(
    "s/period: 100ms/period: 0ms/|workloads[0].period"
    "s/threads: 1/threads: nope/|runtime.threads"
    "\$a garbage: [|invalid YAML"
)
failures=0
for entry in "${BAD[@]}"; do
    IFS='|' read -r text key <<<"$entry"
    write_config 30k 100ms 1 10 info
    sed -i "$text" "$CONFIG"
    kill -HUP "$DAEMON_PID"
    failures=$((failures + 1))
    if poll_until 10 reloads_are 1 "$failures"; then
        ok "invalid file ($text): counted as a failure"
    else
        not_ok "invalid file ($text): reload counters $(grep reloads_total "$METRICS" | tr '\n' ' ')"
    fi
    line=$(grep -F 'reload failed, the running config stays' "$DAEMON_LOG" | tail -n 1)
    grep -q -F -- "$key" <<<"$line" && ok "the error names $key" || not_ok "no 'reload failed' line naming $key"
    # Exactly once: a key error gets the file prepended, a YAML error has it already.
    [[ $(grep -o -F -- "$CONFIG" <<<"$line" | wc -l) == 1 ]] && ok "and names the file once" ||
        not_ok "the error does not name $CONFIG exactly once: $line"
done
[[ $(metric corostorm_config_last_reload_successful) == 0 ]] && ok "corostorm_config_last_reload_successful 0 after them" ||
    not_ok "corostorm_config_last_reload_successful is $(metric corostorm_config_last_reload_successful), want 0"
read_status
[[ $(sj .tasks.live) == 30000 && $(sj .stage) == hold && $(sj .config.sample_every) == 10 ]] &&
    ok "after the failures: still 30000 live, stage hold, sample_every 10" ||
    not_ok "state changed after failed reloads: live $(sj .tasks.live), stage $(sj .stage)"
status_is 200 "$BASE_URL/healthz" && ok "/healthz 200" || not_ok "/healthz $HTTP_STATUS"

# -------------------------------------------------- a stage change, storm ----
write_config 5k 100ms 2 10 warn
kill -HUP "$DAEMON_PID"
poll_until "$TIMEOUT" live_is 5000 && ok "a new stage target (5k): live down to 5000" || not_ok "live is $(sj .tasks.live), want 5000"
poll_until 10 reloads_are 2 "$failures" || not_ok "the stage change was not counted"
[[ $(metric corostorm_config_last_reload_successful) == 1 ]] && ok "a good reload: corostorm_config_last_reload_successful 1" ||
    not_ok "corostorm_config_last_reload_successful is $(metric corostorm_config_last_reload_successful) after a good reload"
# log.level is now warn: a reload that changes nothing logs nothing at info.
for _ in {1..20}; do kill -HUP "$DAEMON_PID"; done
storm_done() { [[ $(metric corostorm_config_reloads_total result=success) -ge 3 ]]; }
poll_until 10 storm_done && ok "20 SIGHUPs in a row: served, $(metric corostorm_config_reloads_total result=success) successes" ||
    not_ok "the storm was not reloaded"
status_is 200 "$BASE_URL/healthz" && ok "/healthz 200 after the storm" || not_ok "/healthz $HTTP_STATUS"
grep -q 'nothing that applies live changed' "$DAEMON_LOG" &&
    not_ok "an info line was written after log.level became warn" || ok "log.level warn applied: no info line since"
read_status
[[ $(sj '.config.restart_needed | length') == 0 ]] && ok "threads back at 2: no restart needed any more" ||
    not_ok "restart_needed is $(sj .config.restart_needed)"

stop_and_wait "$DAEMON_PID" TERM 30
[[ $STOP_RC == 0 ]] && ok "SIGTERM: exit 0" || not_ok "exit $STOP_RC after SIGTERM"

# ----------------------------------------------------------- no file ----
start_daemon "$BIN" run --set server.listen=127.0.0.1:0 --set 'scenario.stages[0].tasks=1k'
kill -HUP "$DAEMON_PID"
poll_until 10 reloads_are 0 1 && ok "no config file: SIGHUP counted as a failure" || not_ok "reload counters without a file"
grep -q 'nothing to reload' "$DAEMON_LOG" && ok "and the log says there is nothing to reload" || not_ok "no 'nothing to reload' line"
stop_and_wait "$DAEMON_PID" TERM 30
[[ $STOP_RC == 0 ]] && ok "SIGTERM: exit 0" || not_ok "exit $STOP_RC after SIGTERM"

e2e_finish
