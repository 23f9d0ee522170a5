#!/usr/bin/env bash
# Resource limits against the real binary (README: Security): at each one the
# daemon refuses at start naming the limit, or caps and reports, and keeps serving.
# - memory.headroom at or above what `auto` resolves to: refused (exit 2) by run,
#   prove and check-config, naming the key and the limit;
# - ulimit -v: the memory guard bounds the mapped bytes too; run caps, serves
#   /status and drains on SIGTERM to exit 0; prove stops with its report;
# - ulimit -v with memory.limit: none: the address-space bound still holds;
# - a limit already passed at start: /readyz 503 with the reason, /healthz 200;
# - prove with memory.limit: a size is held to it, with the reason in the report;
# - ulimit -n too low to serve: refused at start, naming ulimit -n.
#
# usage: limits_test.sh BIN
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary_arg "BIN" "$@"
require_tools curl jq awk grep

e2e_init
OUT=$E2E_TMP/out.txt
ERR=$E2E_TMP/err.txt
# Sanitizers reserve terabytes of address space for their shadow memory: ulimit -v
# cannot apply to their builds.
sanitized() { [[ ${COROSTORM_SANITIZED:-} == 1 ]]; }

# --------------------------------------------- headroom that leaves nothing ----
machine_gib=$(awk '/^MemTotal:/ { print int($2 / 1048576) + 2 }' /proc/meminfo)
for cmd in "run" "check-config" "prove --tasks 1k"; do
    # shellcheck disable=SC2086 # cmd is words on purpose
    run_capture_unless 30 "$OUT" "$ERR" "serving /metrics" "$BIN" $cmd --set server.listen=127.0.0.1:0 \
        --set "memory.headroom=${machine_gib}GiB"
    ((RUN_RC == 2)) && grep -q "memory.headroom: ${machine_gib}GiB leaves no room below memory.limit auto" "$ERR" &&
        ok "$cmd: headroom ${machine_gib}GiB above the machine's memory refused (exit 2, names the key)" ||
        not_ok "$cmd with headroom ${machine_gib}GiB: exit $RUN_RC, $(head -c 300 "$ERR")"
done

if sanitized; then
    echo "skip - ulimit -v cases: a sanitizer's shadow memory needs more address space than any limit here"
else
    # ------------------------------------------------------- ulimit -v ----
    run_capture 30 "$OUT" "$ERR" bash -c 'ulimit -v 200000 && exec "$@"' _ "$BIN" check-config \
        --set memory.headroom=300MiB
    ((RUN_RC == 2)) && grep -q 'leaves no room below the address-space limit (ulimit -v)' "$ERR" &&
        ok "ulimit -v 200000 with 300 MiB headroom: refused, naming ulimit -v" ||
        not_ok "ulimit -v with a larger headroom: exit $RUN_RC, $(head -c 300 "$ERR")"

    # 2M sleepers need ~180 MB; 150 MB of address space holds far fewer.
    start_daemon bash -c 'ulimit -v 150000 && exec "$@"' _ "$BIN" run --set server.listen=127.0.0.1:0 \
        --set 'scenario.stages[0].tasks=2M' --set 'scenario.stages[0].over=1s'
    STATUS=$E2E_TMP/status.json
    capped() {
        http_get "$BASE_URL/status" && [[ $HTTP_STATUS == 200 ]] && cp "$HTTP_BODY_FILE" "$STATUS" &&
            [[ $(jq -r .memory_guard.capped "$STATUS") == true ]]
    }
    if poll_until 30 capped; then
        ok "ulimit -v 150000: capped at $(jq -r .tasks.live "$STATUS") of 2M tasks, /status 200"
    else
        not_ok "ulimit -v 150000: not capped within 30 s: $(head -c 300 "$STATUS" 2>/dev/null)"
    fi
    [[ $(jq -r .memory_guard.address_space_binds "$STATUS") == true ]] && ok "/status: the address space binds" ||
        not_ok "/status memory_guard: $(jq -c .memory_guard "$STATUS")"
    grep -q 'spawning held back at .* the address space (ulimit -v)' "$DAEMON_LOG" &&
        ok "the log says the address space holds spawning back" || not_ok "no 'held back ... ulimit -v' line"
    for path in /metrics /healthz; do
        status_is 200 "$BASE_URL$path" && ok "capped by ulimit -v: $path 200" || not_ok "$path $HTTP_STATUS"
    done
    stop_and_wait "$DAEMON_PID" TERM 30
    ((STOP_RC == 0)) && grep -q 'drained every task' "$DAEMON_LOG" && ok "SIGTERM under ulimit -v: drained, exit 0" ||
        not_ok "SIGTERM under ulimit -v: exit $STOP_RC; $(grep -E 'error|critical' "$DAEMON_LOG" | head -n 2)"

    # memory.limit: none lifts the memory bound, not the address space's: past it any
    # allocation would fail, anywhere in the process.
    start_daemon bash -c 'ulimit -v 150000 && exec "$@"' _ "$BIN" run --set server.listen=127.0.0.1:0 \
        --set memory.limit=none --set 'scenario.stages[0].tasks=2M' --set 'scenario.stages[0].over=1s'
    if poll_until 30 capped && [[ $(jq -r .memory_guard.address_space_binds "$STATUS") == true ]]; then
        ok "memory.limit none under ulimit -v: capped by the address space at $(jq -r .tasks.live "$STATUS") tasks"
    else
        not_ok "memory.limit none under ulimit -v: not capped by the address space: $(jq -c .memory_guard "$STATUS" 2>/dev/null)"
    fi
    status_is 200 "$BASE_URL/healthz" && ok "and /healthz 200" || not_ok "/healthz $HTTP_STATUS"
    stop_and_wait "$DAEMON_PID" TERM 30
    ((STOP_RC == 0)) && ok "SIGTERM: exit 0" || not_ok "SIGTERM: exit $STOP_RC"

    run_capture 60 "$OUT" "$ERR" bash -c 'ulimit -v 150000 && exec "$@"' _ "$BIN" prove --tasks 10M --json
    reason=$(jq -r .reason "$OUT" 2>/dev/null || echo "no report")
    ((RUN_RC == 1)) && [[ $reason == "memory limit: "*"ulimit -v"* ]] &&
        ok "prove under ulimit -v: exit 1, $(jq -r .tasks "$OUT") tasks, reason names ulimit -v" ||
        not_ok "prove under ulimit -v: exit $RUN_RC, reason: $reason"
fi

# ------------------------------------ no room for one task: not ready ----
# A limit the process is already past at start: a 4 MiB threshold, ~10 MiB resident.
start_daemon "$BIN" run --set server.listen=127.0.0.1:0 --set memory.limit=64MiB --set memory.headroom=60MiB
not_ready() { status_is 503 "$BASE_URL/readyz" && grep -q 'no room for a single task' "$HTTP_BODY_FILE"; }
poll_until 10 not_ready && ok "past the threshold with 0 tasks: /readyz 503, saying why" ||
    not_ok "/readyz $HTTP_STATUS: $(head -c 200 "$HTTP_BODY_FILE")"
status_is 200 "$BASE_URL/healthz" && ok "and /healthz 200 (alive, serving)" || not_ok "/healthz $HTTP_STATUS"
stop_and_wait "$DAEMON_PID" TERM 30
((STOP_RC == 0)) && ok "SIGTERM: exit 0" || not_ok "exit $STOP_RC"

# ------------------------------------------------- prove with a size ----
run_capture 60 "$OUT" "$ERR" "$BIN" prove --tasks 10M --set memory.limit=100MiB --json
reason=$(jq -r .reason "$OUT" 2>/dev/null || echo "no report")
peak=$(jq -r .peak_resident_bytes "$OUT" 2>/dev/null || echo 0)
((RUN_RC == 1)) && [[ $reason == "memory limit: "*"100.0 MiB limit"* ]] &&
    ok "prove --set memory.limit=100MiB: held back, exit 1 with the reason" ||
    not_ok "prove with memory.limit=100MiB: exit $RUN_RC, reason: $reason"
if ! sanitized; then
    # The guard counts resident bytes for a configured size; what the drain and the report
    # allocate after it stopped spawning may add a little.
    num_cmp "$peak" '<=' $((110 * 1048576)) && ok "peak resident $((peak / 1048576)) MiB, within the limit" ||
        not_ok "peak resident $peak bytes, above 110 MiB"
fi

# ------------------------------------------------------- ulimit -n ----
for entry in "16|" "40|--set workloads[0]={name: r, kind: rpc}"; do
    IFS='|' read -r limit extra <<<"$entry"
    if sanitized && ((limit == 16)); then
        # UBSan's vptr check opens files of its own while it checks the exception Asio throws.
        echo "skip - ulimit -n 16: UBSan needs descriptors of its own there"
        continue
    fi
    # shellcheck disable=SC2086 # extra is one --set or nothing
    run_capture_unless 30 "$OUT" "$ERR" "stage ramp" bash -c 'ulimit -n "$1" && shift && exec "$@"' _ "$limit" \
        "$BIN" run --set server.listen=127.0.0.1:0 ${extra:+"--set"} ${extra:+"${extra#--set }"}
    ((RUN_RC == 1)) && grep -q 'ulimit -n' "$ERR" &&
        ok "ulimit -n $limit${extra:+ (rpc)}: refused at start (exit 1), naming ulimit -n" ||
        not_ok "ulimit -n $limit${extra:+ (rpc)}: exit $RUN_RC, $(grep -E 'error|critical' "$ERR" | head -c 300)"
done

e2e_finish
