#!/usr/bin/env bash
# Checks deploy/prometheus: the scrape config and the rule files pass promtool,
# the promtool unit tests pass, and, given the corostorm binary, a real
# Prometheus that scrapes a real daemon with the SAME rule files evaluates
# every rule without error and gets at least one series from each recording
# rule.
#
# usage: prometheus_rules_test.sh SRC_DIR [BIN]
# Exits 77 (skipped) when promtool is not installed; without BIN, or without
# the prometheus binary, only the promtool checks run.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

(($# >= 1)) || { echo "usage: $0 SRC_DIR [BIN]" >&2; exit 2; }
SRC_DIR=$1
BIN=${2:-}
DEPLOY=$SRC_DIR/deploy/prometheus
[[ -f $DEPLOY/prometheus.yml ]] || { echo "no $DEPLOY/prometheus.yml" >&2; exit 2; }
[[ -z $BIN || -x $BIN ]] || { echo "not an executable: $BIN" >&2; exit 2; }
command -v promtool >/dev/null 2>&1 ||
    skip_test "promtool is not installed (looked in PATH=$PATH); on Debian: apt-get install prometheus"

e2e_init

readonly TIMEOUT=40

# ------------------------------------------------------- static checks ----
RULE_FILES=("$DEPLOY"/rules/*.yml)
TEST_FILES=("$DEPLOY"/tests/*.yml)
# An unmatched glob stays as the pattern itself.
[[ -f ${RULE_FILES[0]} ]] || die "no rule files in $DEPLOY/rules"
[[ -f ${TEST_FILES[0]} ]] || die "no test files in $DEPLOY/tests"

# promtool ARGS...: runs promtool, shows its output only when it fails.
promtool_ok() {
    local out=$E2E_TMP/promtool.out
    if promtool "$@" >"$out" 2>&1; then
        ok "promtool $*"
    else
        cat "$out"
        not_ok "promtool $*"
    fi
}

# Run from the config's directory, as its rule_files paths are relative.
if (cd "$DEPLOY" && promtool check config prometheus.yml >"$E2E_TMP/config.out" 2>&1); then
    ok "promtool check config prometheus.yml"
else
    cat "$E2E_TMP/config.out"
    not_ok "promtool check config prometheus.yml"
fi
for f in "${RULE_FILES[@]}"; do promtool_ok check rules "$f"; done
for f in "${TEST_FILES[@]}"; do promtool_ok test rules "$f"; done
((E2E_FAILED == 0)) || die "$E2E_FAILED promtool check(s) failed"

if [[ -z $BIN ]]; then
    echo "no corostorm binary given: skipping the live Prometheus check"
    exit 0
fi
if ! command -v prometheus >/dev/null 2>&1; then
    echo "prometheus is not installed: skipping the live Prometheus check"
    exit 0
fi
require_tools curl jq awk grep

# The recording rules the files define: each must produce a series.
mapfile -t RECORDS < <(awk '$1 == "-" && $2 == "record:" { print $3 }' "${RULE_FILES[@]}")
((${#RECORDS[@]} > 0)) || die "no recording rules found in ${RULE_FILES[*]}"
RULE_COUNT=$(awk '$1 == "-" && ($2 == "record:" || $2 == "alert:")' "${RULE_FILES[@]}" | wc -l)

# ---------------------------------------------------------- the daemon ----
# Sleepers and the two I/O workloads, without which the round trip rules
# would have nothing to record: by weight, 17800 sleepers, 200 echo tasks
# (100 connections) and 2000 rpc callers.
start_daemon "$BIN" run \
    --set server.listen=127.0.0.1:0 \
    --set runtime.threads=2 \
    --set "scenario.stages[0].tasks=20k" \
    --set "scenario.stages[0].over=1s" \
    --set "workloads[0].period=100ms" \
    --set "workloads[0].weight=89" \
    --set 'workloads[1]={name: conns, kind: echo, weight: 1, period: 100ms, message: 64B}' \
    --set 'workloads[2]={name: calls, kind: rpc, weight: 10, period: 100ms, message: 64B, connections: 2}'
readonly TARGET=127.0.0.1:$PORT
ok "corostorm listening on $TARGET (pid $DAEMON_PID)"

# ---------------------------------------------------------- Prometheus ----
# The repo's rule files, by absolute path; only the target and the pace differ
# from deploy/prometheus/prometheus.yml.
write_prometheus_config "$E2E_TMP/prometheus.yml" "$TARGET" "${RULE_FILES[@]}"
promtool check config "$E2E_TMP/prometheus.yml" >/dev/null || die "generated config invalid: $(cat "$E2E_TMP/prometheus.yml")"
start_prometheus "$E2E_TMP/prometheus.yml" "$TIMEOUT"

# query EXPR: sets COUNT to the number of series the instant query returns.
query() {
    COUNT=""
    curl -sS --max-time 10 -G --data-urlencode "query=$1" "$PROM_URL/api/v1/query" \
        -o "$E2E_TMP/query.json" 2>/dev/null || return 1
    jq -e '.status == "success"' "$E2E_TMP/query.json" >/dev/null || return 1
    COUNT=$(jq -r '.data.result | length' "$E2E_TMP/query.json")
}
has_series() { query "$1" && ((COUNT > 0)); }
up_is_1() { query 'up{job="corostorm"} == 1' && ((COUNT == 1)); }

poll_until "$TIMEOUT" up_is_1 || die "up{job=\"corostorm\"} never 1 in ${TIMEOUT}s"
ok 'up{job="corostorm"} == 1'

for rec in "${RECORDS[@]}"; do
    if poll_until "$TIMEOUT" has_series "$rec"; then
        ok "recording rule $rec: $COUNT series"
    else
        not_ok "recording rule $rec: no series in ${TIMEOUT}s"
    fi
done

# A series alone may be NaN (a quantile without samples) or one workload of
# two: the I/O rules must hold numbers for both I/O workloads, and the fleet
# memory per task must show the kernel's share beside rss (> -Inf: only NaN
# is out, as the machine's slab may shrink and make the kernel's growth < 0).
for expr in \
    'engine_workload:corostorm_io_round_trip_seconds:p50_rate1m{workload="conns"} > 0' \
    'engine_workload:corostorm_io_round_trip_seconds:p999_rate1m{workload="calls"} > 0' \
    'engine_method:corostorm_memory_per_task_bytes:ratio_sum{method="rss"} > 0' \
    'engine_method:corostorm_memory_per_task_bytes:ratio_sum{method="kernel"} > -Inf'; do
    if poll_until "$TIMEOUT" has_series "$expr"; then
        ok "$expr"
    else
        not_ok "$expr: no series in ${TIMEOUT}s"
    fi
done

# rules_all_evaluated: every rule of the files is loaded and has been
# evaluated at least once (health is "unknown" before that).
rules_all_evaluated() {
    curl -sS --max-time 10 "$PROM_URL/api/v1/rules" -o "$E2E_TMP/rules.json" 2>/dev/null || return 1
    jq -e --argjson n "$RULE_COUNT" \
        '[.data.groups[].rules[]] | length == $n and all(.health != "unknown")' \
        "$E2E_TMP/rules.json" >/dev/null
}
poll_until "$TIMEOUT" rules_all_evaluated ||
    not_ok "not all $RULE_COUNT rules loaded and evaluated in ${TIMEOUT}s"
bad=$(jq -c '[.data.groups[].rules[] | select(.health != "ok") | {name, health, lastError}]' "$E2E_TMP/rules.json")
if [[ $bad == "[]" ]]; then
    ok "all $RULE_COUNT rules evaluate with health \"ok\""
else
    not_ok "rules not healthy: $bad"
fi

# ------------------------------------------------------------ shut down ----
stop_and_wait "$PROM_PID" TERM 30
((STOP_RC == 0)) || echo "# note: Prometheus exited with code $STOP_RC"
stop_and_wait "$DAEMON_PID" TERM 30
((STOP_RC == 0)) || not_ok "corostorm exit code $STOP_RC after SIGTERM, want 0"

((E2E_FAILED == 0)) || die "$E2E_FAILED check(s) failed"
echo "all deploy/prometheus checks passed"
