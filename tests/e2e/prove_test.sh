#!/usr/bin/env bash
# End-to-end tests of `corostorm prove`: the JSON report and its documented
# keys, every workload kind on both engines, a target that cannot be reached
# in time, bad flags, the human table, and the --against-go refusals that need
# no Go toolchain (tests/peers runs the Go peer itself).
#
# usage: prove_test.sh BIN
# Runs every case, prints one line per case and a summary; exits 1 if any
# case failed.
# Environment: COROSTORM_SANITIZED=1 for a sanitizer build (slower, and its
# allocator makes memory per task larger; the big skynet tree is skipped).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary_arg "BIN" "$@"
require_tools awk grep jq

e2e_init

# A run is given --duration 20s; with the drain it must be over well before this.
readonly CMD_TIMEOUT=60
if [[ ${COROSTORM_SANITIZED:-} == 1 ]]; then SANITIZED=1; RSS_MAX=4000; else SANITIZED=0; RSS_MAX=2000; fi
readonly RSS_MIN=40

OUT=$E2E_TMP/out
ERR=$E2E_TMP/err
CASES=0

readonly LATENCY_KEYS=(count p50 p90 p99 p999 max)

# prove ARGS...: runs BIN prove ARGS, stdout to $OUT, stderr to $ERR; sets RUN_RC
# and TOOK (seconds, whole).
prove() {
    local t0=$SECONDS
    run_capture "$CMD_TIMEOUT" "$OUT" "$ERR" "$BIN" prove "$@"
    TOOK=$((SECONDS - t0))
}

expect_rc() {
    case $RUN_RC in
        "$1") ;;
        124) PROBLEMS+=("still running after ${CMD_TIMEOUT}s (killed)") ;;
        *) PROBLEMS+=("exit code $RUN_RC, want $1") ;;
    esac
}

# Nothing a user should ever see, and no log line at info (prove's output is
# its progress and its report).
expect_calm_stderr() {
    if grep -E -i -q 'terminate|aborted|exception|sanitizer|runtime error|segmentation fault|core dumped' "$ERR"; then
        PROBLEMS+=("alarming text on stderr")
    fi
    if grep -E -q '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+ +info ' "$ERR"; then
        PROBLEMS+=("an info log line on stderr")
    fi
}

# j EXPR: jq -r EXPR on the report in $OUT ("" when jq fails).
j() { jq -r "$1" "$OUT" 2>/dev/null || true; }

# expect_json: stdout is exactly one JSON object with no NaN or infinity in it.
expect_json() {
    if ! jq -e 'type == "object"' "$OUT" >/dev/null 2>&1; then
        PROBLEMS+=("stdout is not one JSON object")
        return 1
    fi
    if [[ $(jq -s length "$OUT") != 1 ]]; then
        PROBLEMS+=("stdout holds more than one JSON value")
    fi
    if grep -E -q '(^|[:,[ ])-?(NaN|nan|Infinity|inf)([],} ]|$)' "$OUT"; then
        PROBLEMS+=("NaN or infinity in the JSON")
    fi
}

# expect_eq WHAT GOT WANT
expect_eq() {
    [[ $2 == "$3" ]] || PROBLEMS+=("$1 is '$2', want '$3'")
}

# expect_between WHAT GOT LO HI
expect_between() {
    num_between "$2" "$3" "$4" || PROBLEMS+=("$1 is '$2', want it in [$3, $4]")
}

# expect_reached_report ENGINE KIND TARGET: the common checks of a run that
# reached its target.
expect_reached_report() {
    local engine=$1 kind=$2 target=$3
    expect_json || return 0
    expect_eq reached "$(j .reached)" true
    expect_eq reason "$(j .reason)" null
    expect_eq target "$(j .target)" "$target"
    expect_eq workload "$(j .workload)" "$kind"
    expect_eq engine "$(j .engine)" "$engine"
    expect_eq threads "$(j .threads)" 2
    local tasks
    tasks=$(j .tasks)
    if [[ $kind == spawn_tree ]]; then
        # A tree is never alive all at once: its target counts tasks spawned.
        num_cmp "$tasks" '>=' "$target" || PROBLEMS+=("tasks is '$tasks', want >= $target")
    else
        expect_eq tasks "$tasks" "$target"
    fi
    expect_between time_to_target_seconds "$(j .time_to_target_seconds)" 0 20
    num_cmp "$(j .spawn_rate_per_second)" '>' 0 || PROBLEMS+=("spawn_rate_per_second is not > 0")
    expect_between measure_seconds "$(j .measure_seconds)" 4.5 5.5
    num_cmp "$(j .resumes_per_second)" '>' 0 || PROBLEMS+=("resumes_per_second is not > 0")
    num_cmp "$(j .cpu_seconds)" '>' 0 || PROBLEMS+=("cpu_seconds is not > 0")
    # CPU time over the window (10 ms ticks: a quiet sleep window may show 0).
    num_cmp "$(j .measure_cpu_seconds)" '>=' 0 || PROBLEMS+=("measure_cpu_seconds is not >= 0")
    num_cmp "$(j .measure_cpu_seconds)" '<=' "$(j .cpu_seconds)" || PROBLEMS+=("measure_cpu_seconds > cpu_seconds")
    num_cmp "$(j .cpu_ns_per_resume)" '>=' 0 || PROBLEMS+=("cpu_ns_per_resume is not >= 0")
    if [[ $kind == yield || $kind == ring || $kind == cpu ]]; then
        num_cmp "$(j .cpu_ns_per_resume)" '>' 0 || PROBLEMS+=("cpu_ns_per_resume is not > 0")
    fi
    if [[ $kind == spawn_tree ]]; then
        num_cmp "$(j .seconds_per_tree)" '>' 0 || PROBLEMS+=("seconds_per_tree is not > 0")
        num_cmp "$(j .seconds_per_tree)" '<=' "$(j .measure_seconds)" ||
            PROBLEMS+=("seconds_per_tree is longer than the window, yet a tree finished in it")
    else
        expect_eq seconds_per_tree "$(j .seconds_per_tree)" null
    fi
    num_cmp "$(j .peak_resident_bytes)" '>' 0 || PROBLEMS+=("peak_resident_bytes is not > 0")
    if [[ $(j '.latency_seconds | length') == 0 ]]; then
        PROBLEMS+=("no latency source has samples")
    fi
    local source key
    for source in $(j '.latency_seconds | keys[]'); do
        [[ $source == timer || $source == ready ]] || PROBLEMS+=("unknown latency source '$source'")
        for key in "${LATENCY_KEYS[@]}"; do
            [[ $(j ".latency_seconds.$source | has(\"$key\")") == true ]] ||
                PROBLEMS+=("latency_seconds.$source.$key missing")
        done
        num_cmp "$(j ".latency_seconds.$source.count")" '>' 0 || PROBLEMS+=("latency $source: count not > 0")
        num_cmp "$(j ".latency_seconds.$source.p50")" '<=' "$(j ".latency_seconds.$source.p99")" ||
            PROBLEMS+=("latency $source: p50 > p99")
        num_cmp "$(j ".latency_seconds.$source.p999")" '<=' "$(j ".latency_seconds.$source.max")" ||
            PROBLEMS+=("latency $source: p99.9 > max")
    done
    local has_frame
    has_frame=$(j '.memory_per_task_bytes | has("frame")')
    if [[ $engine == lean ]]; then
        expect_eq "memory_per_task_bytes has frame" "$has_frame" true
    else
        expect_eq "memory_per_task_bytes has frame" "$has_frame" false
    fi
}

# ------------------------------------------------- 100k sleepers, JSON ----
case_start
prove --tasks 100k --workload sleep --json --threads 2 --duration 20s
expect_rc 0
expect_calm_stderr
expect_reached_report lean sleep 100000
for key in "${PROVE_REPORT_KEYS[@]}"; do
    # jq answers null for a missing key as for a null one: ask the parent.
    parent=${key%.*}
    [[ -z $parent ]] && parent=.
    [[ $(jq "$parent | has(\"${key##*.}\")" "$OUT" 2>/dev/null) == true ]] || PROBLEMS+=("$key missing")
done
expect_eq live_tasks "$(j .live_tasks)" 100000
expect_between "memory_per_task_bytes.rss" "$(j .memory_per_task_bytes.rss)" "$RSS_MIN" "$RSS_MAX"
expect_between "memory_per_task_bytes.frame" "$(j .memory_per_task_bytes.frame)" 32 1000
[[ $(j '.latency_seconds | has("timer")') == true ]] || PROBLEMS+=("no timer latency for sleepers")
num_cmp "$(j .machine.cpus)" '>=' 1 || PROBLEMS+=("machine.cpus is not >= 1")
num_cmp "$(j .machine.memory_bytes)" '>' 0 || PROBLEMS+=("machine.memory_bytes is not > 0")
[[ $(j .machine.corostorm) =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || PROBLEMS+=("machine.corostorm is not X.Y.Z")
[[ $(j .machine.boost) =~ ^[0-9]+\.[0-9]+ ]] || PROBLEMS+=("machine.boost is not a version")
[[ -n $(j .machine.compiler) && $(j .machine.compiler) != null ]] || PROBLEMS+=("machine.compiler is empty")
grep -q 'reached 100,000 tasks' "$ERR" || PROBLEMS+=("no 'reached 100,000 tasks' progress note on stderr")
if grep -q $'\r' "$ERR"; then PROBLEMS+=("progress redrawn with \\r although stderr is not a terminal"); fi
case_end "prove --tasks 100k --workload sleep --json --threads 2"

# ------------------------------------------ every kind on both engines ----
# The skynet tree (fanout 10, depth 6: 1,111,111 tasks) is the default; a
# sanitizer build and the asio engine (which keeps a whole tree alive) get a
# small one through the config: fanout 4, depth 4 = 341 tasks.
readonly SMALL_TREE='workloads[0]={name: t, kind: spawn_tree, fanout: 4, depth: 4}'
for engine in lean asio; do
    for spec in "sleep 10k 10000" "yield 1k 1000" "ring 1k 1000" "spawn_tree tree" "cpu 4 4"; do
        read -r kind tasks target <<<"$spec"
        extra=()
        if [[ $kind == spawn_tree ]]; then
            if [[ $engine == lean && $SANITIZED == 0 ]]; then
                tasks=1111111 target=1111111
            else
                tasks=341 target=341 extra=(--set "$SMALL_TREE")
            fi
        fi
        case_start
        prove --tasks "$tasks" --workload "$kind" --engine "$engine" --threads 2 --json --duration 20s "${extra[@]}"
        expect_rc 0
        expect_calm_stderr
        expect_reached_report "$engine" "$kind" "$target"
        case_end "prove --workload $kind --engine $engine --tasks $tasks ${extra[*]}"
    done
done

# The shared layout (one io_context for every thread, a strand per worker)
# runs timers and hand-offs on both engines.
for engine in lean asio; do
    for spec in "sleep 10k 10000" "ring 1k 1000"; do
        read -r kind tasks target <<<"$spec"
        case_start
        prove --tasks "$tasks" --workload "$kind" --engine "$engine" --threads 2 --json --duration 20s \
            --set runtime.layout=shared
        expect_rc 0
        expect_calm_stderr
        expect_reached_report "$engine" "$kind" "$target"
        case_end "prove --workload $kind --engine $engine --tasks $tasks --set runtime.layout=shared"
    done
done

# The workload takes its parameters from the config's first workload of its
# kind: rings of 10 make 50 tasks a valid target (the default rings of 100 do not).
case_start
prove --tasks 50 --workload ring --threads 2 --json --duration 20s --set 'workloads[1]={name: r, kind: ring, ring_size: 10}'
expect_rc 0
expect_calm_stderr
expect_reached_report lean ring 50
expect_eq "live_tasks" "$(j .live_tasks)" 50
case_end "prove --workload ring --tasks 50 with ring_size 10 from --set"

case_start
prove --tasks 1050 --workload ring --threads 2 --json --duration 20s
expect_rc 2
grep -q -F -- '--tasks' "$ERR" || PROBLEMS+=("the message does not name --tasks")
grep -q -F 'multiple of 100' "$ERR" || PROBLEMS+=("the message does not say 'multiple of 100'")
[[ ! -s $OUT ]] || PROBLEMS+=("printed something on stdout")
case_end "prove --workload ring --tasks 1050 (not whole rings)"

# --------------------------------------------------- an unreachable run ----
case_start
prove --tasks 500M --duration 2s --threads 2 --json
expect_rc 1
expect_calm_stderr
((TOOK <= 10)) || PROBLEMS+=("took ${TOOK}s, want at most 10s")
if expect_json; then
    expect_eq reached "$(j .reached)" false
    reason=$(j .reason)
    [[ $reason == "time limit: "* && $reason == *"of 500,000,000 tasks in 2 s" ]] ||
        PROBLEMS+=("reason is '$reason', want 'time limit: reached N of 500,000,000 tasks in 2 s'")
    expect_eq target "$(j .target)" 500000000
    num_cmp "$(j .tasks)" '<' 500000000 || PROBLEMS+=("tasks is not < the target")
    expect_eq time_to_target_seconds "$(j .time_to_target_seconds)" null
    expect_eq resumes_per_second "$(j .resumes_per_second)" null
    expect_eq latency_seconds "$(j '.latency_seconds | tojson')" "{}"
fi
case_end "prove --tasks 500M --duration 2s (time limit)"

# ---------------------------------------------- out of memory for frames ----
# Under a 1 GB address-space limit frames stop coming after about 8M tasks.
# Sanitizer runtimes reserve terabytes of address space up front, so only
# plain builds can run under such a limit.
if ((SANITIZED == 0)); then
    # The memory guard stops it at the address-space bound, which memory.limit: none
    # does not lift.
    for entry in "memory.limit=auto|memory limit: |guard" "memory.limit=none|memory limit: |guard, address space only"; do
        IFS='|' read -r setting want what <<<"$entry"
        case_start
        t0=$SECONDS
        run_capture "$CMD_TIMEOUT" "$OUT" "$ERR" bash -c 'ulimit -v 1000000 && exec "$@"' _ \
            "$BIN" prove --tasks 50M --threads 2 --duration 20s --json --set "$setting"
        TOOK=$((SECONDS - t0))
        expect_rc 1
        ((TOOK <= 15)) || PROBLEMS+=("took ${TOOK}s, want at most 15s (the stall is noticed after 1 s)")
        if expect_json; then
            expect_eq reached "$(j .reached)" false
            reason=$(j .reason)
            [[ $reason == "$want"*"of 50,000,000 tasks"* ]] ||
                PROBLEMS+=("reason is '$reason', want '$want... of 50,000,000 tasks ...'")
            num_cmp "$(j .tasks)" '>' 0 || PROBLEMS+=("tasks is not > 0")
        fi
        case_end "prove --tasks 50M under ulimit -v 1000000, $setting ($what)"
    done
else
    echo "skip - allocation failure under ulimit -v: not with sanitizers"
fi

# ------------------------------------------------------------ bad flags ----
# ARGS | the flag the message must name | part of the allowed range or values
BAD_FLAGS=(
    "--tasks -1|--tasks|between 1 and 10G"
    "--tasks 1X|--tasks|between 1 and 10G"
    "--tasks 1k --workload nope|--workload|spawn_tree"
    "--tasks 1k --engine fibers|--engine|lean, asio"
    "--tasks 1k --threads 5000|--threads|between 0 and 1024"
    "--tasks 1k --duration fast|--duration|between 1s and 1d"
    "--workload sleep|--tasks|required"
)
for entry in "${BAD_FLAGS[@]}"; do
    IFS='|' read -r args flag allowed <<<"$entry"
    read -r -a argv <<<"$args"
    case_start
    prove "${argv[@]}"
    expect_rc 2
    expect_calm_stderr
    grep -q -F -- "$flag" "$ERR" || PROBLEMS+=("the message does not name $flag")
    grep -q -F -- "$allowed" "$ERR" || PROBLEMS+=("the message does not say '$allowed'")
    [[ ! -s $OUT ]] || PROBLEMS+=("printed something on stdout")
    case_end "prove $args"
done

# ------------------------------------------------------- the human table ----
case_start
prove --tasks 10k --threads 2 --duration 20s
expect_rc 0
expect_calm_stderr
if jq -e . "$OUT" >/dev/null 2>&1; then PROBLEMS+=("stdout is JSON without --json"); fi
# Each label (an extended regex) must start a line, after the indentation.
for label in 'reached +yes, 10,000 of 10,000 tasks$' 'time to reach +[0-9.]+ s$' 'spawn rate +[0-9,]+ tasks/s$' \
    'memory per task \(10,000 live tasks\)$' 'frame +[0-9.]+ B' 'heap +[0-9.]+ B' 'rss +[0-9.]+ B' \
    'measured over [0-9.]+ s after reaching the target$' 'resumes +[0-9,]+ /s$' 'latency +samples +p50 +p90 +p99 +p99.9 +max\*$' \
    'timer +[0-9,]+ ' 'cpu per resume +[0-9.]+ ns' 'cpu time +[0-9.]+ s' 'peak rss +[0-9.]+ MiB$' 'machine$' 'cpu +[^ ]' 'cores available +[0-9]+$' 'memory +[0-9.]+ GiB$' \
    'kernel +[^ ]' 'compiler +[^ ]' 'boost +[0-9]' 'corostorm +[0-9]+\.[0-9]+\.[0-9]+$' '\* max: the upper bound'; do
    grep -E -q -- "^ *$label" "$OUT" || PROBLEMS+=("no line matching '^ *$label'")
done
case_end "prove --tasks 10k (table)"

# ------------------------------------------- --against-go without Go ----
# Refused before anything runs (exit 2, nothing on stdout), with what to do.
# The runs with the Go peer are in tests/peers.
AGAINST_GO_BAD=(
    "env PATH=/nonexistent|--tasks 1k --against-go|apt-get install golang-go"
    "env|--tasks 1k --against-go --go-peer /nonexistent/corostorm-go-peer|--go-peer: must be an executable file"
    "env|--tasks 1k --go-peer /bin/true|--go-peer: only with --against-go"
    "env|--tasks 4 --workload cpu --against-go --go-peer /bin/true|not cpu"
    "env|--tasks 1k --against-go --go-peer /bin/true --set latency.sample_every=10|latency.sample_every must be 1"
)
for entry in "${AGAINST_GO_BAD[@]}"; do
    IFS='|' read -r envs args want <<<"$entry"
    read -r -a env_argv <<<"$envs"
    read -r -a argv <<<"$args"
    case_start
    t0=$SECONDS
    run_capture "$CMD_TIMEOUT" "$OUT" "$ERR" "${env_argv[@]}" "$BIN" prove "${argv[@]}"
    expect_rc 2
    grep -q -F -- "$want" "$ERR" || PROBLEMS+=("the message does not say '$want'")
    [[ ! -s $OUT ]] || PROBLEMS+=("printed something on stdout")
    ((SECONDS - t0 <= 5)) || PROBLEMS+=("took $((SECONDS - t0)) s: something ran before the refusal")
    case_end "${envs#env} prove $args"
done

echo
echo "$((CASES - E2E_FAILED)) of $CASES cases passed, $E2E_FAILED failed"
((E2E_FAILED == 0))
