#!/usr/bin/env bash
# End-to-end test with a real Prometheus: it scrapes the daemon every second,
# and the queries a dashboard relies on must answer: the target is up, the
# live task count sums to the target, the p99 timer latency over the
# histogram buckets is a finite positive number, memory per task is there.
#
# usage: prometheus_test.sh BIN [SRC_DIR]
# Exits 77 (skipped) when the prometheus binary is not installed.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary_arg "BIN [SRC_DIR]" "$@"
command -v prometheus >/dev/null 2>&1 || skip_test "prometheus is not installed (looked in PATH=$PATH)"
require_tools curl jq awk grep

e2e_init

readonly TASKS=50000
readonly TIMEOUT=60

# ------------------------------------------------------------ the daemon ----
start_daemon "$BIN" run \
    --set server.listen=127.0.0.1:0 \
    --set runtime.threads=2 \
    --set "scenario.stages[0].tasks=50k" \
    --set "scenario.stages[0].over=1s" \
    --set "workloads[0].period=100ms"
readonly TARGET=127.0.0.1:$PORT
ok "corostorm listening on $TARGET (pid $DAEMON_PID)"

# ------------------------------------------------------------ Prometheus ----
write_prometheus_config "$E2E_TMP/prometheus.yml" "$TARGET"
start_prometheus "$E2E_TMP/prometheus.yml" "$TIMEOUT"

# ---------------------------------------------------------------- queries ----

# query EXPR: an instant query; sets VALUE to the first sample's value
# (Prometheus writes it as a string: "1", "0.25", "NaN", "+Inf"), empty when
# the result is empty. Fails when the query itself fails.
query() {
    VALUE=""
    curl -sS --max-time 10 -G --data-urlencode "query=$1" "$PROM_URL/api/v1/query" \
        -o "$E2E_TMP/query.json" 2>/dev/null || return 1
    jq -e '.status == "success"' "$E2E_TMP/query.json" >/dev/null || return 1
    VALUE=$(jq -r '.data.result[0].value[1] // ""' "$E2E_TMP/query.json")
}

# Poll conditions on query results.
query_equals() { query "$1" && [[ $VALUE == "$2" ]]; }
query_positive() { query "$1" && is_number "$VALUE" && num_cmp "$VALUE" '>' 0; }

# Why the last poll failed, for the failure message.
explain() {
    echo "last value '${VALUE}'; target health: $(curl -sS --max-time 5 "$PROM_URL/api/v1/targets" |
        jq -c '[.data.activeTargets[] | {health, lastError}]' 2>/dev/null)"
}

UP='up{job="corostorm"}'
poll_until "$TIMEOUT" query_equals "$UP" 1 || die "$UP never became 1 in ${TIMEOUT}s: $(explain)"
ok "$UP == 1"

LIVE='sum(corostorm_tasks_live)'
poll_until "$TIMEOUT" query_equals "$LIVE" "$TASKS" || die "$LIVE never reached $TASKS in ${TIMEOUT}s: $(explain)"
ok "$LIVE == $TASKS"

P99='histogram_quantile(0.99, sum by (le) (rate(corostorm_schedule_latency_seconds_bucket{source="timer"}[5s])))'
poll_until "$TIMEOUT" query_positive "$P99" || die "p99 timer latency never finite and > 0 in ${TIMEOUT}s: $(explain)"
ok "p99 timer latency: $VALUE s"

RSS='corostorm_memory_per_task_bytes{method="rss"}'
query "$RSS" || die "query $RSS failed"
is_number "$VALUE" && num_cmp "$VALUE" '>' 0 || die "$RSS: want a positive number: $(explain)"
ok "$RSS: $VALUE bytes"

# ------------------------------------------------------------ shut down ----
stop_and_wait "$PROM_PID" TERM 30
((STOP_RC == 0)) || echo "# note: Prometheus exited with code $STOP_RC"

stop_and_wait "$DAEMON_PID" TERM 30
((STOP_RC == 0)) || die "corostorm exit code $STOP_RC after SIGTERM, want 0"
no_crash_reports "$DAEMON_LOG" || die "the daemon's log has a crash or sanitizer report"
ok "corostorm exited 0 on SIGTERM"

echo "all Prometheus checks passed"
