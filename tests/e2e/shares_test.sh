#!/usr/bin/env bash
# A workload whose share of the target cannot hold one of its units runs nothing:
# check-config, the daemon's log at the stage that does it, and /status's
# effective_target say so, on both engines. The case: spawn_tree fanout 10,
# depth 5 (111,111 tasks a tree) as one of five equal weights in a 100k target
# (a 20k share), then a stage of 1M that gives it a tree.
#
# usage: shares_test.sh BIN
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary_arg "BIN" "$@"
require_tools curl jq grep

e2e_init
CONFIG=$E2E_TMP/shares.yaml
cat >"$CONFIG" <<'YAML'
server: { listen: "127.0.0.1:0" }
memory: { limit: none }
runtime: { threads: 2 }
scenario:
  stages:
    - { name: small, tasks: 100k, over: 1s }
    - { name: hold, over: 3s }
    - { name: big, tasks: 1M, over: 0s }
    - { name: rest, over: 10m }
workloads:
  - { name: a, kind: sleep, period: 1s }
  - { name: b, kind: sleep, period: 1s }
  - { name: c, kind: sleep, period: 1s }
  - { name: d, kind: sleep, period: 1s }
  - { name: t, kind: spawn_tree, fanout: 10, depth: 5 }
YAML
readonly WANT='workloads[4] (t) runs nothing in stage small: its share of the target is 20000 task(s), less than a tree of 111111 tasks (fanout 10, depth 5)'
STATUS=$E2E_TMP/status.json
read_status() {
    http_get "$BASE_URL/status"
    [[ $HTTP_STATUS == 200 ]] && cp "$HTTP_BODY_FILE" "$STATUS"
}
in_stage() { read_status && [[ $(jq -r .stage "$STATUS") == "$1" ]]; }

for engine in lean asio; do
    run_capture 30 "$E2E_TMP/out" "$E2E_TMP/err" "$BIN" check-config -c "$CONFIG" --set "runtime.engine=$engine"
    ((RUN_RC == 0)) && grep -q -F "warning: $WANT" "$E2E_TMP/err" &&
        ok "$engine: check-config names the starved workload (exit 0)" ||
        not_ok "$engine: check-config exit $RUN_RC, stderr: $(head -c 400 "$E2E_TMP/err")"
    grep -q 'stage big' "$E2E_TMP/err" && not_ok "$engine: check-config warns for stage big, where a tree fits" ||
        ok "$engine: and not for stage big (200k share: one tree)"

    start_daemon "$BIN" run -c "$CONFIG" --set "runtime.engine=$engine"
    poll_until 10 grep -q -F "$WANT" "$DAEMON_LOG" && ok "$engine: the log says so at stage small" ||
        not_ok "$engine: no 'runs nothing' line in the log"
    poll_until 10 in_stage hold || not_ok "$engine: stage hold never came"
    [[ $(jq -r .workloads.t.target "$STATUS") == 20000 && $(jq -r .workloads.t.effective_target "$STATUS") == 0 &&
        $(jq -r .workloads.a.effective_target "$STATUS") == 20000 ]] &&
        ok "$engine: /status t target 20000, effective_target 0; a effective 20000" ||
        not_ok "$engine: /status workloads: $(jq -c '.workloads | map_values({target, effective_target})' "$STATUS")"
    poll_until 20 in_stage rest || not_ok "$engine: stage rest never came"
    [[ $(jq -r .workloads.t.effective_target "$STATUS") == 111111 ]] &&
        ok "$engine: stage big: t effective_target 111111 (one tree of a 200000 share)" ||
        not_ok "$engine: after stage big: $(jq -c .workloads.t "$STATUS")"
    [[ $(grep -c 'runs nothing' "$DAEMON_LOG") == 1 ]] && ok "$engine: one warning in all" ||
        not_ok "$engine: $(grep -c 'runs nothing' "$DAEMON_LOG") 'runs nothing' lines, want 1"
    stop_and_wait "$DAEMON_PID" TERM 30
    ((STOP_RC == 0)) && ok "$engine: SIGTERM: exit 0" || not_ok "$engine: exit $STOP_RC"
done

# ------------------------------------------ more workers than CPUs: told ----
# Workers beyond the CPUs only take turns on them: check-config and the
# start-up log say so; as many workers as CPUs draws no warning.
cpus=$(nproc)
run_capture 30 "$E2E_TMP/out" "$E2E_TMP/err" "$BIN" check-config --set "runtime.threads=$((cpus + 1))"
((RUN_RC == 0)) && grep -q -F "warning: runtime.threads: $((cpus + 1)) worker threads on $cpus CPU(s) available" \
    "$E2E_TMP/err" && ok "check-config warns of $((cpus + 1)) threads on $cpus CPUs (exit 0)" ||
    not_ok "check-config with $((cpus + 1)) threads: exit $RUN_RC, stderr: $(head -c 400 "$E2E_TMP/err")"
run_capture 30 "$E2E_TMP/out" "$E2E_TMP/err" "$BIN" check-config --set "runtime.threads=$cpus"
((RUN_RC == 0)) && ! grep -q 'runtime.threads' "$E2E_TMP/err" && ok "and not for $cpus threads" ||
    not_ok "check-config with $cpus threads: exit $RUN_RC, stderr: $(head -c 400 "$E2E_TMP/err")"
start_daemon "$BIN" run --set server.listen=127.0.0.1:0 --set "runtime.threads=$((cpus + 1))" --set 'scenario.stages=[{name: s, tasks: 0, over: 0s}]'
poll_until 10 grep -q -F "runtime.threads: $((cpus + 1)) worker threads on $cpus CPU(s)" "$DAEMON_LOG" &&
    ok "the start-up log warns too" || not_ok "no oversubscription warning in the log"
stop_and_wait "$DAEMON_PID" TERM 30
((STOP_RC == 0)) && ok "SIGTERM: exit 0" || not_ok "exit $STOP_RC"

e2e_finish
