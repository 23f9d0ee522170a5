#!/usr/bin/env bash
# The memory guard against a real memory cgroup: the daemon starts inside a
# cgroup limited to 512 MiB and is asked for 100M sleeping tasks (~9 GB).
# It must cap itself below the limit, keep serving /metrics, never be
# OOM-killed, and spawn again after a stage lowered the target and raised it
# again. The cgroup is removed at the end.
#
# usage: memory_guard_test.sh BIN
# Needs root and a memory cgroup it can create (v1 /sys/fs/cgroup/memory, or
# v2 with the memory controller enabled); exits 77 (skipped) otherwise.
# Skipped (exit 77) in sanitizer builds (COROSTORM_SANITIZED=1): see below.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary_arg "BIN" "$@"
require_tools curl jq awk grep

readonly LIMIT=$((512 * 1024 * 1024))
# Tasks that must fit under the limit: ~5M lean sleepers at ~90 B.
# DOWN: the target of the stage that lowers it, well under what fits.
readonly MIN_PEAK=1000000 DOWN=1000000
readonly CG_NAME=corostorm-guard-test-$$

# ------------------------------------------------------------ the cgroup ----
# A sanitizer's allocator holds memory the guard does not see coming (ASan
# keeps freed blocks in a 256 MiB quarantine, growing with every scrape, and
# adds shadow memory), so under a tight cgroup it measures the sanitizer,
# not corostorm; the release build runs this test.
[[ ${COROSTORM_SANITIZED:-} != 1 ]] ||
    skip_test "not with sanitizers: their allocator's memory is outside what the guard can hold back"
(($(id -u) == 0)) || skip_test "needs root to create a memory cgroup"
if [[ -d /sys/fs/cgroup/memory && -w /sys/fs/cgroup/memory ]]; then
    CG_VERSION=1
    CG=/sys/fs/cgroup/memory/$CG_NAME
elif [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null &&
    [[ -w /sys/fs/cgroup ]]; then
    CG_VERSION=2
    CG=/sys/fs/cgroup/$CG_NAME
else
    skip_test "no writable memory cgroup (v1 /sys/fs/cgroup/memory, or v2 with +memory in cgroup.subtree_control)"
fi
mkdir "$CG" 2>/dev/null || skip_test "cannot create $CG"

e2e_init
remove_cgroup() {
    local rc=$?
    set +e
    trap - ERR
    if [[ -n ${DAEMON_PID:-} ]] && pid_alive "$DAEMON_PID"; then kill -KILL "$DAEMON_PID" 2>/dev/null; fi
    [[ -n ${SCRAPER_PID:-} ]] && kill -KILL "$SCRAPER_PID" 2>/dev/null
    local i
    for i in {1..50}; do
        rmdir "$CG" 2>/dev/null && break
        sleep 0.1
    done
    [[ -d $CG ]] && echo "warning: could not remove $CG" >&2
    return "$rc"
}
trap 'remove_cgroup; e2e_cleanup' EXIT

if ((CG_VERSION == 1)); then
    echo "$LIMIT" >"$CG/memory.limit_in_bytes"
else
    echo "$LIMIT" >"$CG/memory.max"
fi
ok "cgroup v$CG_VERSION $CG limited to 512 MiB"

# cg_value FILE KEY: the KEY line of a flat-keyed cgroup file (memory.events, memory.oom_control).
cg_value() { awk -v k="$2" '$1 == k { print $2 }' "$CG/$1"; }

# ------------------------------------------------------------ the daemon ----
# up: 100M over 10 s (capped after a second or two); hold; down to DOWN; rest;
# again to 100M: the guard must let the freed room be used again.
CONFIG=$E2E_TMP/guard.yaml
cat >"$CONFIG" <<EOF
server: { listen: "127.0.0.1:0" }
runtime: { threads: 2 }
memory: { limit: auto, headroom: 10% }
scenario:
  stages:
    - { name: up, tasks: 100M, over: 10s }
    - { name: hold, over: 10s }
    - { name: down, tasks: $DOWN, over: 1s }
    - { name: rest, over: 4s }
    - { name: again, tasks: 100M, over: 2s }
    - { name: hold2, over: 10m }
workloads:
  - { name: idle, kind: sleep, period: 1s }
EOF
t_start=$SECONDS
# The shell joins the cgroup, then becomes the daemon: every page it touches is charged there.
start_daemon bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$CG" "$BIN" run -c "$CONFIG"
ok "daemon in the cgroup, listening on port $PORT (pid $DAEMON_PID)"
grep -q "$DAEMON_PID" "$CG/cgroup.procs" || die "pid $DAEMON_PID is not in $CG/cgroup.procs"

# A scraper for the whole run: one GET /metrics every 250 ms, its status and
# time on a line. Every scrape must succeed.
SCRAPES=$E2E_TMP/scrapes.txt
start_bg scraper bash -c 'while :; do
    curl -s -o /dev/null --max-time 5 -w "%{http_code} %{time_total}\n" "$1/metrics" >>"$2" || echo "000 -" >>"$2"
    sleep 0.25
done' _ "$BASE_URL" "$SCRAPES"
SCRAPER_PID=$BG_PID

STATUS=$E2E_TMP/status.json
# read_status: GET /status into $STATUS; fails unless 200 and JSON.
read_status() {
    http_get "$BASE_URL/status"
    [[ $HTTP_STATUS == 200 ]] && cp "$HTTP_BODY_FILE" "$STATUS" && jq -e . "$STATUS" >/dev/null
}
sj() { jq -r "$1" "$STATUS"; }
in_stage_and() { read_status && [[ $(sj .stage) == "$1" ]] && eval "$2"; }

# ------------------------------------------------------ capped, serving ----
capped() { read_status && [[ $(sj .memory_guard.capped) == true ]]; }
if poll_until 30 capped; then
    ok "capped after $((SECONDS - t_start)) s at $(sj .tasks.live) live tasks"
else
    not_ok "the guard did not cap within 30 s: $(jq -c .memory_guard "$STATUS" 2>/dev/null)"
fi
[[ $(sj .stage_state) == capped ]] && ok "/status stage_state capped" || not_ok "stage_state is '$(sj .stage_state)'"
[[ $(sj .memory_guard.limit) == cgroup && $(sj .memory_guard.limit_bytes) == "$LIMIT" ]] &&
    ok "/status: limit from the cgroup, $LIMIT bytes" ||
    not_ok "/status memory_guard: $(jq -c .memory_guard "$STATUS")"

poll_until 30 in_stage_and hold true || die "stage hold never came"
http_get "$BASE_URL/metrics"
cp "$HTTP_BODY_FILE" "$E2E_TMP/metrics.txt"
limit_metric=$(metric_value "$E2E_TMP/metrics.txt" corostorm_memory_limit_bytes || echo missing)
num_cmp "$limit_metric" '==' "$LIMIT" && ok "corostorm_memory_limit_bytes $limit_metric" ||
    not_ok "corostorm_memory_limit_bytes is '$limit_metric', want $LIMIT"
denied=$(metric_value "$E2E_TMP/metrics.txt" corostorm_spawn_denied_total reason=memory || echo missing)
num_cmp "$denied" '>' 0 && ok "corostorm_spawn_denied_total{reason=\"memory\"} $denied" ||
    not_ok "spawn_denied_total{reason=memory} is '$denied', want > 0"

# Held, not creeping: live at the start and at the end of the hold.
read_status
peak=$(sj .tasks.live)
poll_until 30 in_stage_and down true || die "stage down never came"
held=$(jq -r .tasks.live "$STATUS")
num_cmp "$peak" '>' "$MIN_PEAK" && num_cmp "$peak" '<' 100000000 &&
    ok "held at $peak tasks (of 100M asked), $held at the end of the hold" ||
    not_ok "live during the hold is '$peak', want between $MIN_PEAK and 100M"
num_cmp "$held" '<=' "$((peak + peak / 100))" || not_ok "live grew from $peak to $held while capped"
peak=$((held > peak ? held : peak))

# ---------------------------------------------- lower, then raise again ----
down_done() { in_stage_and rest '[[ $(sj .tasks.live) == "$DOWN" ]]'; }
poll_until 30 down_done && ok "down to $DOWN live tasks" || not_ok "live is '$(sj .tasks.live)' in stage rest, want $DOWN"
again_done() {
    in_stage_and hold2 'num_cmp "$(sj .tasks.live)" ">=" "$((peak * 98 / 100))" && [[ $(sj .memory_guard.capped) == true ]]'
}
if poll_until 40 again_done; then
    ok "spawning resumed: $(sj .tasks.live) live again (peak $peak), capped=$(sj .memory_guard.capped)"
else
    not_ok "after stage again live is '$(sj .tasks.live)', want >= 98% of $peak and capped again (stage $(sj .stage), capped $(sj .memory_guard.capped))"
fi
episodes=$(sj .memory_guard.episodes)
warnings=$(grep -c 'memory guard: spawning held back' "$DAEMON_LOG" || true)
[[ $episodes == 2 && $warnings == 2 ]] && ok "two episodes, one warning each" ||
    not_ok "episodes $episodes, 'held back' warnings $warnings; want 2 and 2"
grep -q 'memory guard: no spawn held back for' "$DAEMON_LOG" && ok "the end of the first episode was logged" ||
    not_ok "no 'no spawn held back' line in the log"

# ----------------------------------------------- never OOM, still alive ----
while ((SECONDS - t_start < 30)); do sleep 1; done
pid_alive "$DAEMON_PID" && ok "alive after $((SECONDS - t_start)) s" || not_ok "the daemon died"
if ((CG_VERSION == 1)); then
    failcnt=$(<"$CG/memory.failcnt")
    oom_kills=$(cg_value memory.oom_control oom_kill)
    max_usage=$(<"$CG/memory.max_usage_in_bytes")
else
    failcnt=$(cg_value memory.events max)
    oom_kills=$(cg_value memory.events oom_kill)
    max_usage=$(cat "$CG/memory.peak" 2>/dev/null || cat "$CG/memory.current")
fi
[[ $failcnt == 0 ]] && ok "the cgroup never reached its limit (failcnt 0)" || not_ok "failcnt is $failcnt"
[[ ${oom_kills:-0} == 0 ]] && ok "no OOM kill" || not_ok "oom_kill is $oom_kills"
num_cmp "$max_usage" '<' "$LIMIT" && ok "peak usage $((max_usage / 1048576)) MiB of 512 MiB" ||
    not_ok "peak usage $max_usage >= $LIMIT"

kill_and_reap "$SCRAPER_PID"
total=$(wc -l <"$SCRAPES")
failed=$(awk '$1 != 200' "$SCRAPES" | wc -l)
slowest=$(awk '$1 == 200 && $2 > m { m = $2 } END { printf "%.0f", m * 1000 }' "$SCRAPES")
((total >= 40 && failed == 0)) && ok "$total scrapes during the run, none failed, slowest ${slowest} ms" ||
    not_ok "$failed of $total scrapes failed"

stop_and_wait "$DAEMON_PID" TERM 60
[[ $STOP_RC == 0 ]] && ok "SIGTERM: exit 0" || not_ok "exit code $STOP_RC after SIGTERM"

# ------------------------------------------------ prove, same cgroup ----
# prove has the same guard: 100M asked in 512 MiB ends with its report and exit 1,
# never an OOM kill (exit 137 and no report).
OUT=$E2E_TMP/prove.json
run_capture 120 "$OUT" "$E2E_TMP/prove.err" bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$CG" \
    "$BIN" prove --tasks 100M --threads 2 --json
reason=$(jq -r .reason "$OUT" 2>/dev/null || echo "no report")
[[ $RUN_RC == 1 && $reason == "memory limit: "*"(cgroup)"* ]] &&
    ok "prove --tasks 100M in the cgroup: exit 1 at $(jq -r .tasks "$OUT") tasks, held by the guard" ||
    not_ok "prove in the cgroup: exit $RUN_RC, reason: $reason"
if ((CG_VERSION == 1)); then oom_kills=$(cg_value memory.oom_control oom_kill); else oom_kills=$(cg_value memory.events oom_kill); fi
[[ ${oom_kills:-0} == 0 ]] && ok "prove: no OOM kill" || not_ok "oom_kill is $oom_kills after prove"

e2e_finish
