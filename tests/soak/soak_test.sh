#!/usr/bin/env bash
# Soak: the daemon under a realistic load for a few minutes. Two million
# tasks on a mix of workloads (sleepers, yielders that keep every worker
# busy, rings, cpu slices), scraped 20 times a second by 4 clients, with a
# reload in the middle that changes the stage target and the sleepers'
# period. Checked all along: no failed scrape; live tasks equal to what the
# stage asks once each ramp is over; memory per task flat (no leak); every
# worker busy; and a clean SIGTERM at the end. Prints the scrape latency.
#
# usage: soak_test.sh BIN
# Environment: COROSTORM_SANITIZED=1 for a sanitizer build: a quarter of the
# tasks, the same checks. COROSTORM_SOAK_HOLD_S: seconds of each hold (default 40).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

binary_arg "BIN" "$@"
require_tools curl jq awk grep sort

e2e_init
if [[ ${COROSTORM_SANITIZED:-} == 1 ]]; then SCALE=4; else SCALE=1; fi
readonly HOLD_S=${COROSTORM_SOAK_HOLD_S:-40}
readonly RAMP_S=10
readonly TASKS=$((2000000 / SCALE)) AFTER_RELOAD=$((1500000 / SCALE))
readonly CLIENTS=4 CLIENT_HZ=5

CONFIG=$E2E_TMP/soak.yaml
# write_config TOTAL PERIOD
write_config() {
    cat >"$CONFIG" <<YAML
server: { listen: "127.0.0.1:0" }
runtime: { threads: 2 }
scenario:
  stages:
    - { name: ramp, tasks: $1, over: ${RAMP_S}s }
    - { name: hold, over: 1h }
# Weights: per million tasks, 1,000 yielders (they keep the workers busy),
# 10 rings of 100, 4 cpu tasks, the rest sleepers.
workloads:
  - { name: idle, kind: sleep, period: $2, weight: 998996 }
  - { name: spin, kind: yield, weight: 1000 }
  - { name: ring, kind: ring, ring_size: 100, weight: 1000 }
  - { name: calc, kind: cpu, slice: 100us, weight: 4 }
YAML
}
write_config "$TASKS" 1s
start_daemon "$BIN" run -c "$CONFIG"
ok "daemon on port $PORT: $TASKS tasks over ${RAMP_S} s, then hold; ${CLIENTS} scrapers at ${CLIENT_HZ} Hz each"

# ------------------------------------------------------------ scrapers ----
SCRAPERS=()
for c in $(seq 1 "$CLIENTS"); do
    # On a schedule, not a fixed pause: a slow answer does not lower the rate.
    start_bg "scraper-$c" bash -c 'period_us=$((1000000 / $3)) next=$(date +%s%6N)
        while :; do
            curl -s -o /dev/null --max-time 5 -w "%{http_code} %{time_total}\n" "$1/metrics" >>"$2" ||
                echo "000 -" >>"$2"
            next=$((next + period_us)) now=$(date +%s%6N)
            ((next > now)) && sleep "$(printf "0.%06d" $((next - now)))"
        done' _ "$BASE_URL" "$E2E_TMP/scrapes-$c.txt" "$CLIENT_HZ"
    SCRAPERS+=("$BG_PID")
done

# --------------------------------------------------------- the monitor ----
STATUS=$E2E_TMP/status.json
read_status() {
    http_get "$BASE_URL/status"
    [[ $HTTP_STATUS == 200 ]] && cp "$HTTP_BODY_FILE" "$STATUS" && jq -e . "$STATUS" >/dev/null
}
sj() { jq -r "$1" "$STATUS"; }
SAMPLES=$E2E_TMP/samples.txt  # phase t live target rss_per_task
MISMATCHES=0

# What the stage asks for, in live tasks: each workload's target, rings in
# whole rings of 100 (a ring counts as 100 tasks of the target).
readonly EXPECTED_LIVE='[.workloads | to_entries[] |
    if .key == "ring" then ((.value.target / 100) | floor) * 100 else .value.target end] | add'

# watch PHASE SECONDS TOTAL: samples /status once a second for SECONDS; from
# SETTLE_S on, the target must be TOTAL and live must be what it asks for.
# (Retiring takes until each task's next wake-up, and a ring's until its
# leader's next lap, which a busy worker delays: some seconds after the ramp.)
readonly SETTLE_S=$((RAMP_S + 10))
watch() {
    local phase=$1 seconds=$2 total=$3 t0=$SECONDS live expected
    while ((SECONDS - t0 < seconds)); do
        if read_status; then
            live=$(sj .tasks.live)
            expected=$(jq -r "$EXPECTED_LIVE" "$STATUS")
            echo "$phase $((SECONDS - t0)) $live $(sj .tasks.target) $(sj '.memory_per_task_bytes.rss // 0')" >>"$SAMPLES"
            if ((SECONDS - t0 >= SETTLE_S)) && [[ $live != "$expected" || $(sj .tasks.target) != "$total" ]]; then
                MISMATCHES=$((MISMATCHES + 1))
                echo "#   $phase +$((SECONDS - t0)) s: live $live, target $(sj .tasks.target), want live $expected of $total"
            fi
        else
            echo "$phase $((SECONDS - t0)) /status failed" >>"$SAMPLES"
            MISMATCHES=$((MISMATCHES + 1))
        fi
        sleep 1
    done
}

watch first $((RAMP_S + HOLD_S)) "$TASKS"
busy=$(metric_value <(curl -s "$BASE_URL/metrics") corostorm_worker_busy_seconds_total worker=0 || echo 0)
b0=$busy t0=$(date +%s.%N)
sleep 2
busy=$(metric_value <(curl -s "$BASE_URL/metrics") corostorm_worker_busy_seconds_total worker=0 || echo 0)
ratio=$(awk -v a="$b0" -v b="$busy" -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.2f", (b - a) / (t1 - t0) }')
# A figure, not a check: it depends on the CPU other processes leave.
echo "# worker 0 busy ${ratio} of the wall time (1.00: saturated)"

# ------------------------------------------------ reload: a stage change ----
write_config "$AFTER_RELOAD" 500ms
kill -HUP "$DAEMON_PID"
watch second $((RAMP_S + HOLD_S)) "$AFTER_RELOAD"
read_status
[[ $(sj .config.reloads.success) == 1 && $(sj .config.reloads.failure) == 0 ]] &&
    ok "reload applied (success 1)" || not_ok "reloads: $(jq -c .config.reloads "$STATUS")"
((MISMATCHES == 0)) && ok "live equal to the stage target after each ramp, every second" ||
    not_ok "$MISMATCHES samples where live differed from the target (or /status failed)"

# ---------------------------------------------------- memory per task ----
# Resident bytes per task at the start and at the end of each hold: flat,
# within 5% (a leak of one small allocation per resume would show here).
flat() {
    local phase=$1 first last
    first=$(awk -v p="$phase" -v t="$SETTLE_S" '$1 == p && $2 >= t && $5 > 0 { print $5; exit }' "$SAMPLES")
    last=$(awk -v p="$phase" '$1 == p && $5 > 0 { v = $5 } END { print v }' "$SAMPLES")
    if [[ -n $first && -n $last ]] && awk -v a="$first" -v b="$last" 'BEGIN { exit !(b <= a * 1.05) }'; then
        ok "rss per task in the $phase hold: $(printf '%.1f' "$first") B -> $(printf '%.1f' "$last") B"
    else
        not_ok "rss per task in the $phase hold grew: '$first' -> '$last'"
    fi
}
flat first
flat second

# ------------------------------------------------------------- scrapes ----
for pid in "${SCRAPERS[@]}"; do kill_and_reap "$pid"; done
cat "$E2E_TMP"/scrapes-*.txt >"$E2E_TMP/scrapes.txt"
total=$(wc -l <"$E2E_TMP/scrapes.txt")
failed=$(awk '$1 != 200' "$E2E_TMP/scrapes.txt" | wc -l)
read -r p50 p99 max < <(awk '$1 == 200 { print $2 * 1000 }' "$E2E_TMP/scrapes.txt" | sort -n |
    awk '{ v[NR] = $1 } END { printf "%.1f %.1f %.1f\n", v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1], v[NR] }')
rate=$(awk -v n="$total" -v s=$((2 * (RAMP_S + HOLD_S) + 2)) 'BEGIN { printf "%.1f", n / s }')
((failed == 0 && total > 0)) && ok "$total scrapes (${rate}/s), none failed; p50 ${p50} ms, p99 ${p99} ms, max ${max} ms" ||
    not_ok "$failed of $total scrapes failed"

# --------------------------------------------------------------- stop ----
t0=$SECONDS
stop_and_wait "$DAEMON_PID" TERM 60
[[ $STOP_RC == 0 ]] && ok "SIGTERM: exit 0 after $((SECONDS - t0)) s" || not_ok "exit $STOP_RC after SIGTERM"
no_crash_reports "$DAEMON_LOG" || not_ok "a crash report in the daemon's log"

e2e_finish
