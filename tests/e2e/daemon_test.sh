#!/usr/bin/env bash
# End-to-end test of the running daemon: ramps 200k sleeping tasks, then
# checks every endpoint and the metrics that matter, and that SIGTERM drains
# and exits 0. A second run checks that SIGINT in the middle of a ramp also
# ends cleanly.
#
# usage: daemon_test.sh BIN [SRC_DIR]
# Environment: COROSTORM_SANITIZED=1 for a sanitizer build (slower, and its
# allocator makes resident memory per task larger); COROSTORM_EXPECTED_REVISION,
# the revision corostorm_build_info must carry (CTest passes the configured one).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary_arg "BIN [SRC_DIR]" "$@"
require_tools curl jq promtool awk grep

e2e_init

readonly TASKS=200000
readonly READY_TIMEOUT=30
readonly RAMP_TIMEOUT=60   # the ramp itself takes 2 s; a sanitizer build needs far longer
readonly EXIT_TIMEOUT=30
# Bounds on bytes per live task. A lean frame of the sleep workload is ~100
# bytes; resident memory adds allocator rounding and the page tables, and
# ASan's allocator adds redzones and metadata on top.
readonly FRAME_MIN=40 FRAME_MAX=400
readonly RSS_MIN=40
if [[ ${COROSTORM_SANITIZED:-} == 1 ]]; then RSS_MAX=4000; else RSS_MAX=2000; fi

METRICS=$E2E_TMP/metrics.txt

# scrape: GET /metrics into $METRICS; fails unless it answered 200.
scrape() {
    http_get "$BASE_URL/metrics" || return 1
    [[ $HTTP_STATUS == 200 ]] || return 1
    cp "$HTTP_BODY_FILE" "$METRICS"
}

# live_is N: a poll condition; sets LIVE to the last value seen.
live_is() {
    LIVE=unknown
    scrape || return 1
    LIVE=$(metric_value "$METRICS" corostorm_tasks_live workload=idle) || return 1
    [[ $LIVE == "$1" ]]
}

# ================================================ 1: ramp, endpoints, SIGTERM ====
echo "# scenario 1: ramp to $TASKS tasks, check the endpoints, SIGTERM"

start_daemon "$BIN" run \
    --set server.listen=127.0.0.1:0 \
    --set runtime.threads=2 \
    --set "scenario.stages[0].tasks=200k" \
    --set "scenario.stages[0].over=2s" \
    --set "workloads[0].period=100ms"
ok "listening on port $PORT (pid $DAEMON_PID)"

poll_until "$READY_TIMEOUT" status_is 200 "$BASE_URL/readyz" ||
    die "/readyz: still $HTTP_STATUS after ${READY_TIMEOUT}s"
ok "/readyz 200"

poll_until "$RAMP_TIMEOUT" live_is "$TASKS" ||
    die "corostorm_tasks_live{workload=\"idle\"} is $LIVE after ${RAMP_TIMEOUT}s, want $TASKS"
ok "corostorm_tasks_live{workload=\"idle\"} reached $TASKS"

# Every check below reads one scrape taken once the ramp is over.
scrape || die "/metrics: status $HTTP_STATUS"

live=$(metric_value "$METRICS" corostorm_tasks_live workload=idle) || die "corostorm_tasks_live missing"
[[ $live == "$TASKS" ]] || die "corostorm_tasks_live is $live after the ramp, want it to stay at $TASKS"
target=$(metric_value "$METRICS" corostorm_tasks_target workload=idle) || die "corostorm_tasks_target missing"
[[ $target == "$TASKS" ]] || die "corostorm_tasks_target is $target, want $TASKS"
ok "live and target stay at $TASKS"

declare -A per_task
for method in frame heap rss; do
    value=$(metric_value "$METRICS" corostorm_memory_per_task_bytes method=$method) ||
        die "corostorm_memory_per_task_bytes{method=\"$method\"} missing"
    is_number "$value" || die "corostorm_memory_per_task_bytes{method=\"$method\"} is not a number: $value"
    per_task[$method]=$value
done
num_between "${per_task[frame]}" $FRAME_MIN $FRAME_MAX ||
    die "memory per task (frame) is ${per_task[frame]} bytes, want $FRAME_MIN..$FRAME_MAX"
num_between "${per_task[rss]}" $RSS_MIN $RSS_MAX ||
    die "memory per task (rss) is ${per_task[rss]} bytes, want $RSS_MIN..$RSS_MAX"
ok "memory per task: frame ${per_task[frame]}, heap ${per_task[heap]}, rss ${per_task[rss]} bytes"

count=$(metric_value "$METRICS" corostorm_schedule_latency_seconds_count workload=idle source=timer) ||
    die "corostorm_schedule_latency_seconds_count{source=\"timer\"} missing"
num_cmp "$count" '>' 0 || die "corostorm_schedule_latency_seconds_count{source=\"timer\"} is $count, want > 0"
metric_value "$METRICS" corostorm_schedule_latency_seconds_bucket workload=idle source=timer le=+Inf >/dev/null ||
    die "corostorm_schedule_latency_seconds_bucket{source=\"timer\",le=\"+Inf\"} missing"
ok "timer latency histogram has $count samples"

version=$("$BIN" --version | awk '{ print $2 }')
build=$(metric_value "$METRICS" corostorm_build_info version="$version") ||
    die "corostorm_build_info{version=\"$version\"} missing"
[[ $build == 1 ]] || die "corostorm_build_info is $build, want 1"
ok "corostorm_build_info{version=\"$version\"} 1"
# The revision CMake configured (CTest passes it); without it, any non-empty one.
revision=$(grep '^corostorm_build_info{' "$METRICS" | sed -n 's/.*[{,]revision="\([^"]*\)".*/\1/p')
if [[ -n ${COROSTORM_EXPECTED_REVISION:-} ]]; then
    [[ $revision == "$COROSTORM_EXPECTED_REVISION" ]] ||
        die "corostorm_build_info{revision=\"$revision\"}, want \"$COROSTORM_EXPECTED_REVISION\" (the configured one)"
else
    [[ -n $revision ]] || die "corostorm_build_info has no revision label"
fi
ok "corostorm_build_info{revision=\"$revision\"}"

metric_value "$METRICS" process_resident_memory_bytes >/dev/null || die "process_resident_memory_bytes missing"
ok "process collector present"

# promtool lints as well as parses; the exposition must pass without a word.
lint=$(promtool check metrics <"$METRICS" 2>&1) && lint_rc=0 || lint_rc=$?
((lint_rc == 0)) && [[ -z $lint ]] || die "promtool check metrics: exit $lint_rc: $lint"
ok "promtool check metrics: clean"

http_get "$BASE_URL/healthz"
[[ $HTTP_STATUS == 200 ]] || die "/healthz: status $HTTP_STATUS, want 200"
ok "/healthz 200"

http_get "$BASE_URL/status"
[[ $HTTP_STATUS == 200 ]] || die "/status: status $HTTP_STATUS, want 200"
jq -e . "$HTTP_BODY_FILE" >/dev/null || die "/status: not JSON: $(head -c 200 "$HTTP_BODY_FILE")"
status_live=$(jq -r '.tasks.live' "$HTTP_BODY_FILE")
[[ $status_live == "$TASKS" ]] || die "/status .tasks.live is $status_live, want $TASKS"
status_target=$(jq -r '.tasks.target' "$HTTP_BODY_FILE")
[[ $status_target == "$TASKS" ]] || die "/status .tasks.target is $status_target, want $TASKS"
state=$(jq -r '.state' "$HTTP_BODY_FILE")
[[ $state == running ]] || die "/status .state is $state, want running"
timer_count=$(jq -r '.workloads.idle.latency_seconds.timer.count' "$HTTP_BODY_FILE")
num_cmp "$timer_count" '>' 0 || die "/status .workloads.idle.latency_seconds.timer.count is $timer_count, want > 0"
frame=$(jq -r '.memory_per_task_bytes.frame' "$HTTP_BODY_FILE")
num_between "$frame" $FRAME_MIN $FRAME_MAX || die "/status .memory_per_task_bytes.frame is $frame"
ok "/status: JSON, live $status_live, target $status_target, state $state"

http_get "$BASE_URL/nope"
[[ $HTTP_STATUS == 404 ]] || die "GET /nope: status $HTTP_STATUS, want 404"
ok "GET /nope 404"

http POST "$BASE_URL/metrics"
[[ $HTTP_STATUS == 405 ]] || die "POST /metrics: status $HTTP_STATUS, want 405"
[[ $(http_header allow) == *GET* ]] || die "POST /metrics: 405 without an Allow header naming GET"
ok "POST /metrics 405"

# The server counts what it answered: the 404 and the 405 above among them.
scrape || die "/metrics: status $HTTP_STATUS"
for series in 'path=other code=404' 'path=/metrics code=405' 'path=/healthz code=200'; do
    # shellcheck disable=SC2086 # two label matchers
    n=$(metric_value "$METRICS" corostorm_http_requests_total $series) || die "corostorm_http_requests_total{$series} missing"
    num_cmp "$n" '>=' 1 || die "corostorm_http_requests_total{$series} is $n, want >= 1"
done
metric_value "$METRICS" corostorm_http_connections_open >/dev/null || die "corostorm_http_connections_open missing"
ok "corostorm_http_requests_total counts 404, 405 and 200 by path"

# gzip when asked, as Prometheus asks: the same page, several times smaller.
curl -s -m 10 -H 'Accept-Encoding: gzip' -D "$E2E_TMP/gz.headers" -o "$E2E_TMP/metrics.gz" "$BASE_URL/metrics" ||
    die "gzip scrape failed"
grep -qi '^content-encoding: gzip' "$E2E_TMP/gz.headers" || die "no Content-Encoding: gzip: $(cat "$E2E_TMP/gz.headers")"
gunzip -c "$E2E_TMP/metrics.gz" | grep -q '^corostorm_tasks_live' || die "the gzip body does not unpack to the page"
plain=$(stat -c %s "$METRICS")
packed=$(stat -c %s "$E2E_TMP/metrics.gz")
((packed * 3 < plain)) || die "gzip body $packed B of a $plain B page"
ok "/metrics gzip: $packed B for a $plain B page"

http HEAD "$BASE_URL/metrics"
[[ $HTTP_STATUS == 200 ]] || die "HEAD /metrics: status $HTTP_STATUS, want 200"
# curl reads no body after a HEAD, so look at the bytes on the wire.
raw_request "$PORT" 'HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' ||
    die "HEAD /metrics: no complete response over a raw connection"
[[ $RAW_STATUS_LINE == "HTTP/1.1 200 "* ]] || die "HEAD /metrics: status line '$RAW_STATUS_LINE'"
((RAW_BODY_BYTES == 0)) || die "HEAD /metrics: $RAW_BODY_BYTES body bytes after the headers, want 0"
length=$(header_value "$RAW_HEADERS_FILE" content-length)
[[ $length =~ ^[0-9]+$ ]] && ((length > 0)) ||
    die "HEAD /metrics: Content-Length is '$length', want the length a GET would have"
ok "HEAD /metrics 200, no body"

no_crash_reports "$DAEMON_LOG" || die "the daemon's log has a crash or sanitizer report"

stop_and_wait "$DAEMON_PID" TERM "$EXIT_TIMEOUT"
((STOP_RC != 124)) || die "still running ${EXIT_TIMEOUT}s after SIGTERM (killed)"
((STOP_RC == 0)) || die "exit code $STOP_RC after SIGTERM, want 0"
no_crash_reports "$DAEMON_LOG" || die "the daemon's log has a crash or sanitizer report"
http_get "$BASE_URL/healthz"
[[ $HTTP_STATUS == 000 ]] || die "port $PORT still answers ($HTTP_STATUS) after the daemon exited"
ok "SIGTERM: drained and exited 0"

# ======================================================= 2: SIGINT mid-ramp ====
echo "# scenario 2: SIGINT while the ramp is under way"

# A long ramp, so that the signal lands in the middle of it.
start_daemon "$BIN" run \
    --set server.listen=127.0.0.1:0 \
    --set runtime.threads=2 \
    --set "scenario.stages[0].tasks=1M" \
    --set "scenario.stages[0].over=60s" \
    --set "workloads[0].period=100ms"
ok "listening on port $PORT (pid $DAEMON_PID)"

# ramp_under_way: enough tasks alive that the drain has work to do, and the
# ramp still the current stage (it adds about 17k tasks a second).
readonly MID_RAMP_TASKS=20000
ramp_under_way() {
    http_get "$BASE_URL/status"
    [[ $HTTP_STATUS == 200 ]] || return 1
    STAGE=$(jq -r '.stage' "$HTTP_BODY_FILE") && LIVE=$(jq -r '.tasks.live' "$HTTP_BODY_FILE") || return 1
    [[ $STAGE == ramp ]] && num_cmp "$LIVE" '>=' "$MID_RAMP_TASKS"
}
poll_until "$READY_TIMEOUT" ramp_under_way || die "the ramp did not start within ${READY_TIMEOUT}s"
((LIVE < 1000000)) || die "the ramp was already over ($LIVE tasks) before the signal"
ok "ramp under way: $LIVE tasks in stage $STAGE"

stop_and_wait "$DAEMON_PID" INT "$EXIT_TIMEOUT"
((STOP_RC != 124)) || die "still running ${EXIT_TIMEOUT}s after SIGINT (killed)"
((STOP_RC == 0)) || die "exit code $STOP_RC after SIGINT, want 0"
no_crash_reports "$DAEMON_LOG" || die "the daemon's log has a crash or sanitizer report"
ok "SIGINT mid-ramp: exited 0"

echo "all daemon checks passed"
