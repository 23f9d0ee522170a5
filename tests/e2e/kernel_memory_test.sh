#!/usr/bin/env bash
# memory_per_task_bytes{method="kernel"} against an outside reading of the
# same process: the daemon runs 1000 echo connections in a memory cgroup of
# its own; the kernel memory the cgroup was charged over the ramp, read by
# this script, must match the daemon's exported growth within 10%, and per
# connection it must be at least the size of one TCP socket object (a
# figure from the wrong source, or divided wrongly, fails one of the two).
# bench/kernel compares the figure with the machine-wide slab as well.
#
# usage: kernel_memory_test.sh BIN
# Needs root and a memory cgroup it can create; exits 77 (skipped) otherwise.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary_arg "BIN" "$@"
require_tools curl awk grep

CG_NAME=corostorm-kernel-test-$$
(($(id -u) == 0)) || skip_test "needs root to create a memory cgroup"
if [[ -d /sys/fs/cgroup/memory && -w /sys/fs/cgroup/memory ]]; then
    CG=/sys/fs/cgroup/memory/$CG_NAME
    cg_kernel() { echo $(($(cat "$CG/memory.kmem.usage_in_bytes") + $(cat "$CG/memory.kmem.tcp.usage_in_bytes" 2>/dev/null || echo 0))); }
elif grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null && [[ -w /sys/fs/cgroup ]]; then
    CG=/sys/fs/cgroup/$CG_NAME
    cg_kernel() { awk '$1 == "kernel" || $1 == "sock" { s += $2 } END { print s + 0 }' "$CG/memory.stat"; }
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
    for _ in {1..50}; do rmdir "$CG" 2>/dev/null && break; sleep 0.1; done
    [[ -d $CG ]] && echo "warning: could not remove $CG" >&2
    return "$rc"
}
trap 'remove_cgroup; e2e_cleanup' EXIT

CONFIG=$E2E_TMP/corostorm.yaml
METRICS=$E2E_TMP/metrics.txt
cat >"$CONFIG" <<YAML
server: { listen: "127.0.0.1:0" }
runtime: { threads: 2 }
scenario:
  stages:
    - { name: wait, tasks: 0, over: 3s }
    - { name: ramp, tasks: 2000, over: 1s }
    - { name: hold, over: 10m }
workloads:
  - { name: conns, kind: echo, period: 1s, message: 64B }
YAML
start_daemon bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$CG" "$BIN" run -c "$CONFIG"
grep -q "$DAEMON_PID" "$CG/cgroup.procs" || die "pid $DAEMON_PID is not in $CG/cgroup.procs"
scrape() { http_get "$BASE_URL/metrics" && [[ $HTTP_STATUS == 200 ]] && cp "$HTTP_BODY_FILE" "$METRICS"; }
stage_is() { scrape && [[ $(metric_value "$METRICS" corostorm_scenario_stage_info stage="$1") == 1 ]]; }
poll_until 10 stage_is wait || die "the daemon never reported stage wait"
before=$(cg_kernel)
poll_until 30 stage_is hold || die "the daemon never reached stage hold"
connected() { scrape && [[ $(metric_value "$METRICS" corostorm_connections_live workload=conns) == 1000 ]]; }
poll_until 30 connected && ok "1000 echo connections in cgroup $CG" || die "connections: $(metric_value "$METRICS" corostorm_connections_live workload=conns)"
sleep 2
scrape
after=$(cg_kernel)
exported=$(metric_value "$METRICS" corostorm_memory_growth_bytes method=kernel)
per_task=$(metric_value "$METRICS" corostorm_memory_per_task_bytes method=kernel)
outside=$((after - before))
echo "exported growth $exported B, cgroup from outside $outside B, $per_task B per task"
awk -v a="$exported" -v b="$outside" 'BEGIN { exit !(b > 0 && a >= 0.9 * b && a <= 1.1 * b) }' &&
    ok "exported kernel growth $exported B is within 10% of the cgroup's $outside B read from outside" ||
    not_ok "exported kernel growth $exported B, the cgroup's $outside B read from outside"
# Two tasks per connection; one TCP socket object alone is ~2.3 KB.
awk -v p="$per_task" 'BEGIN { exit !(p * 2 >= 2000 && p * 2 <= 20000) }' &&
    ok "$(awk -v p="$per_task" 'BEGIN { printf "%.0f", p * 2 }') B of kernel memory per connection" ||
    not_ok "kernel bytes per connection $(awk -v p="$per_task" 'BEGIN { printf "%.0f", p * 2 }'), expected 2 KB .. 20 KB"
stop_and_wait "$DAEMON_PID" TERM 30
((STOP_RC == 0)) && ok "SIGTERM: exit 0" || not_ok "exit status $STOP_RC"
e2e_finish
