#!/usr/bin/env bash
# End-to-end test of the Go peer (bench/peers/go): builds it into the CMake
# build directory, serves every workload on a free loopback port and checks
# /metrics (promtool, corostorm's metric names, types, label sets and
# buckets, engine="go", tasks reaching the target, latency counts growing;
# for echo and rpc the live connections, round trips and the descriptors
# given back by the drain), holds echo past its descriptor limit, runs its
# prove mode and checks the JSON report, and runs `corostorm prove
# --against-go` with it. Every connection is on 127.0.0.1, a few hundred at
# most.
#
# usage: peer_test.sh PEER_SRC BUILD_DIR VERSION [BIN]
#   PEER_SRC   bench/peers/go
#   BUILD_DIR  where the peer, its Go build cache and scratch files go
#   VERSION    corostorm's version, stamped into the peer
#   BIN        corostorm, for the label-set comparison and --against-go
# Exits 77 (CTest's skip code) when the Go toolchain is not installed.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

(($# >= 3)) || { echo "usage: $0 PEER_SRC BUILD_DIR VERSION [BIN]" >&2; exit 2; }
PEER_SRC=$1
BUILD_DIR=$2
VERSION=$3
BIN=${4:-}
[[ -f $PEER_SRC/go.mod ]] || { echo "no go.mod in $PEER_SRC" >&2; exit 2; }

if ! command -v go >/dev/null 2>&1; then
    skip_test "go not found: install the Go toolchain with 'apt-get install golang-go' (scripts/setup.sh --test does)"
fi
require_tools curl jq promtool awk grep gofmt

e2e_init

# Offline, standard library only, the build cache kept in the build directory
# (so that only the first run compiles the standard library). corostorm's
# --against-go uses the same GOCACHE when it builds its own copy below.
export GOCACHE=$BUILD_DIR/go-cache GOPATH=$BUILD_DIR/go-path
export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
PEER=$BUILD_DIR/corostorm-go-peer

OUT=$E2E_TMP/out
ERR=$E2E_TMP/err
CASES=0
readonly CMD_TIMEOUT=60

expect_eq() { [[ $2 == "$3" ]] || PROBLEMS+=("$1 is '$2', want '$3'"); }
expect_gt() { num_cmp "$2" '>' "$3" || PROBLEMS+=("$1 is '$2', want > $3"); }
j() { jq -r "$1" "$OUT" 2>/dev/null || true; }

# ---------------------------------------------------------------- build ----
case_start
t0=$SECONDS
# A revision of its own, checked in build_info below.
readonly PEER_REVISION=0123abc
if ! (cd "$PEER_SRC" && go build -trimpath -ldflags "-X main.version=$VERSION -X main.revision=$PEER_REVISION" -o "$PEER" .) >"$OUT" 2>&1; then
    cat "$OUT"
    die "go build of $PEER_SRC failed"
fi
[[ $("$PEER" --version) == "corostorm-go-peer $VERSION" ]] || PROBLEMS+=("--version does not say $VERSION")
unformatted=$(gofmt -l "$PEER_SRC")
[[ -z $unformatted ]] || PROBLEMS+=("not gofmt-formatted: $unformatted")
(cd "$PEER_SRC" && go vet .) >"$ERR" 2>&1 || PROBLEMS+=("go vet: $(tr '\n' ' ' <"$ERR")")
case_end "build, gofmt and go vet the peer ($((SECONDS - t0)) s)"

# ------------------------------------------------------- the golden lists ----
# Every family the peer exports, with its type, and every sample's label names.
readonly GOLDEN_FAMILIES="corostorm_build_info gauge
corostorm_memory_growth_bytes gauge
corostorm_memory_per_task_bytes gauge
corostorm_schedule_latency_seconds histogram
corostorm_task_resumes_total counter
corostorm_tasks_completed_total counter
corostorm_tasks_live gauge
corostorm_tasks_spawned_total counter
corostorm_tasks_target gauge
process_cpu_seconds_total counter
process_max_fds gauge
process_open_fds gauge
process_resident_memory_bytes gauge
process_start_time_seconds gauge
process_threads gauge
process_virtual_memory_bytes gauge"
readonly GOLDEN_LABELS="corostorm_build_info{version,engine,compiler,boost,revision}
corostorm_memory_growth_bytes{engine,method}
corostorm_memory_per_task_bytes{engine,method}
corostorm_schedule_latency_seconds_bucket{engine,workload,source,le}
corostorm_schedule_latency_seconds_count{engine,workload,source}
corostorm_schedule_latency_seconds_sum{engine,workload,source}
corostorm_task_resumes_total{engine,workload}
corostorm_tasks_completed_total{engine,workload,outcome}
corostorm_tasks_live{engine,workload}
corostorm_tasks_spawned_total{engine,workload}
corostorm_tasks_target{engine,workload}
process_cpu_seconds_total{}
process_max_fds{}
process_open_fds{}
process_resident_memory_bytes{}
process_start_time_seconds{}
process_threads{}
process_virtual_memory_bytes{}"
# What echo and rpc export besides (as corostorm, only a workload that uses
# sockets has them, and source="io" on its schedule latency).
readonly NETWORK_FAMILIES="corostorm_connections_live gauge
corostorm_io_round_trip_seconds histogram"
readonly NETWORK_LABELS="corostorm_connections_live{engine,workload}
corostorm_io_round_trip_seconds_bucket{engine,workload,le}
corostorm_io_round_trip_seconds_count{engine,workload}
corostorm_io_round_trip_seconds_sum{engine,workload}"
# corostorm's bucket bounds, as it prints them: 1 us doubling to 16.8 s.
readonly GOLDEN_LE="1e-06 2e-06 4e-06 8e-06 1.6e-05 3.2e-05 6.4e-05 0.000128 0.000256 0.000512 0.001024 0.002048 0.004096 0.008192 0.016384 0.032768 0.065536 0.131072 0.262144 0.524288 1.048576 2.097152 4.194304 8.388608 16.777216 +Inf"

families() { awk '/^# TYPE / { print $3, $4 }' "$1" | sort; }
# Each sample's metric name and label names in order: name{a,b,c}.
label_sets() {
    awk '!/^#/ && NF {
        name = $0; sub(/[{ ].*/, "", name)
        labels = ""
        if (index($0, "{") > 0) {
            s = substr($0, index($0, "{") + 1); sub(/}.*/, "", s)
            n = split(s, parts, /",/)
            for (i = 1; i <= n; i++) { k = parts[i]; sub(/=.*/, "", k); labels = labels (i > 1 ? "," : "") k }
        }
        print name "{" labels "}"
    }' "$1" | sort -u
}

# corostorm's own families and label names, to hold the peer to them: from a
# corostorm that runs sleep and echo side by side, so that the families of a
# workload with sockets are there too (250 connections).
COROSTORM_SETS=""
if [[ -n $BIN ]]; then
    start_daemon "$BIN" --set server.listen=127.0.0.1:0 --set 'scenario.stages[0].tasks=1k' \
        --set 'scenario.stages[0].over=100ms' --set runtime.threads=1 \
        --set 'workloads[1].name=conns' --set 'workloads[1].kind=echo' --set 'workloads[1].period=100ms'
    corostorm_holds_1k() {
        http_get "$BASE_URL/metrics"
        cp "$HTTP_BODY_FILE" "$E2E_TMP/corostorm-metrics"
        [[ $(metric_value "$E2E_TMP/corostorm-metrics" corostorm_tasks_live workload=idle || true) == 500 &&
            $(metric_value "$E2E_TMP/corostorm-metrics" corostorm_tasks_live workload=conns || true) == 500 ]]
    }
    poll_until 30 corostorm_holds_1k || die "corostorm did not reach 500 sleep and 500 echo tasks within 30 s"
    COROSTORM_FAMILIES=$(families "$E2E_TMP/corostorm-metrics")
    COROSTORM_SETS=$(label_sets "$E2E_TMP/corostorm-metrics")
    stop_and_wait "$DAEMON_PID" TERM 60
fi

# ----------------------------------------------------------- serve mode ----
PEERS_STARTED=0

# start_peer ARGS...: the peer in serve mode on a free port; sets PEER_PID, PEER_LOG, PEER_URL.
start_peer() {
    PEERS_STARTED=$((PEERS_STARTED + 1))
    start_bg "peer-$PEERS_STARTED" "$PEER" --listen 127.0.0.1:0 "$@"
    PEER_PID=$BG_PID
    PEER_LOG=$BG_LOG
    local deadline line pause_ms=10
    deadline=$(deadline_after 20)
    PEER_URL=""
    until line=$(grep -m1 -o 'serving /metrics /healthz on 127\.0\.0\.1:[0-9]*' "$PEER_LOG"); do
        pid_alive "$PEER_PID" || die "the peer exited before serving: $(cat "$PEER_LOG")"
        past_deadline "$deadline" && die "the peer did not say where it serves within 20 s"
        poll_pause
    done
    PEER_URL=http://${line##* on }
}

scrape() {
    http_get "$PEER_URL/metrics"
    [[ $HTTP_STATUS == 200 ]] && cp "$HTTP_BODY_FILE" "$1"
}

# True once the scrape shows what the target counts: tasks alive, or for a
# tree (never alive at once) tasks spawned.
reached_target() {
    local file=$1 kind=$2 tasks=$3 v
    scrape "$file" || return 1
    if [[ $kind == spawn_tree ]]; then
        v=$(metric_value "$file" corostorm_tasks_spawned_total engine=go workload="$kind") || return 1
        num_cmp "$v" '>=' "$tasks"
    else
        v=$(metric_value "$file" corostorm_tasks_live engine=go workload="$kind") || return 1
        [[ $v == "$tasks" ]]
    fi
}

latency_count() {
    metric_value "$1" corostorm_schedule_latency_seconds_count engine=go workload="$2" source="$3"
}

latency_grew() {
    local file=$E2E_TMP/scrape-later
    scrape "$file" || return 1
    num_cmp "$(latency_count "$file" "$1" "$2")" '>' "$3"
}

round_trips() { metric_value "$1" corostorm_io_round_trip_seconds_count engine=go workload="$2"; }

round_trips_grew() {
    local file=$E2E_TMP/scrape-later
    scrape "$file" || return 1
    num_cmp "$(round_trips "$file" "$1")" '>' "$2"
}

# two_seconds_since T: true once 2 s passed since $EPOCHREALTIME was T.
two_seconds_since() { ((${EPOCHREALTIME/./} - ${1/./} >= 2000000)); }

# network_checks FILE KIND TASKS CONNECTIONS CALLS_PER_SECOND: echo's and
# rpc's own figures in a scrape; CALLS_PER_SECOND (rpc) is callers / period.
network_checks() {
    local file=$1 kind=$2 tasks=$3 connections=$4 expected=$5 count t0 t1 later n0 n1 ratio m v le
    expect_eq connections_live "$(metric_value "$file" corostorm_connections_live engine=go workload="$kind")" "$connections"
    expect_eq tasks_live "$(metric_value "$file" corostorm_tasks_live engine=go workload="$kind")" "$tasks"
    for m in heap rss kernel; do
        v=$(metric_value "$file" corostorm_memory_growth_bytes engine=go method=$m || echo none)
        num_cmp "$v" '>=' 0 || PROBLEMS+=("memory_growth_bytes{method=$m} is '$v'")
    done
    v=$(metric_value "$file" corostorm_memory_per_task_bytes engine=go method=kernel || echo none)
    num_cmp "$v" '>=' 0 || PROBLEMS+=("memory_per_task_bytes{method=kernel} is '$v'")
    le=$(grep '^corostorm_io_round_trip_seconds_bucket{' "$file" | sed 's/.*le="\([^"]*\)".*/\1/' | tr '\n' ' ')
    [[ ${le% } == "$GOLDEN_LE" ]] || PROBLEMS+=("io_round_trip le bounds are '${le% }'")
    count=$(round_trips "$file" "$kind" || echo 0)
    poll_until 10 round_trips_grew "$kind" "$count" ||
        PROBLEMS+=("io_round_trip count did not grow past $count within 10 s")
    [[ $kind == rpc ]] || return 0
    # Every caller calls once a period: over a window of 2 s or more the
    # round trips come at about callers / period a second. Loose bounds, as
    # the window is timed from outside the peer on a shared machine.
    later=$E2E_TMP/scrape-rate
    scrape "$later" || { PROBLEMS+=("scrape failed"); return 0; }
    t0=$EPOCHREALTIME
    n0=$(round_trips "$later" "$kind")
    poll_until 10 two_seconds_since "$t0" || true
    scrape "$later" || { PROBLEMS+=("scrape failed"); return 0; }
    t1=$EPOCHREALTIME
    n1=$(round_trips "$later" "$kind")
    ratio=$(awk -v n="$((n1 - n0))" -v t0="$t0" -v t1="$t1" -v e="$expected" 'BEGIN { printf "%.3f", n / (t1 - t0) / e }')
    num_between "$ratio" 0.25 1.5 ||
        PROBLEMS+=("round trips came at $ratio x callers/period a second, want 0.25 .. 1.5")
    RPC_RATE=$(awk -v r="$ratio" -v e="$expected" 'BEGIN { printf "%.0f", r * e }')
}

# drain_gave_back_fds: the drain line says the descriptors open after the
# drain are no more than before the first spawn (connections all closed).
drain_gave_back_fds() {
    local line after before
    line=$(grep -m1 -o 'drained; [0-9]* fds open, [0-9]* before the first spawn' "$PEER_LOG" || true)
    read -r _ after _ _ before _ <<<"$line"
    if [[ -z $line ]]; then
        PROBLEMS+=("no 'drained; N fds open, M before the first spawn' line")
    elif ((after > before)); then
        PROBLEMS+=("$after fds open after the drain, $before before the first spawn")
    fi
}

# KIND TASKS SOURCE EXTRA-FLAGS...
SERVE_CASES=(
    "sleep 1000 timer --period 100ms"
    "yield 100 ready"
    "ring 200 ready --ring-size 10"
    "spawn_tree 341 ready --fanout 4 --depth 4"
    "echo 400 timer --period 100ms --message 64"
    "rpc 10000 io --connections 4 --period 100ms"
)
RPC_RATE=""
for spec in "${SERVE_CASES[@]}"; do
    read -r kind tasks source extra <<<"$spec"
    read -r -a extra_args <<<"$extra"
    case_start
    start_peer --tasks "$tasks" --workload "$kind" --threads 2 "${extra_args[@]}"
    metrics=$E2E_TMP/metrics-$kind
    if ! poll_until 20 reached_target "$metrics" "$kind" "$tasks"; then
        PROBLEMS+=("the target of $tasks was not reached within 20 s")
    fi
    if [[ -s $metrics ]]; then
        promtool check metrics <"$metrics" >"$ERR" 2>&1 || PROBLEMS+=("promtool: $(tr '\n' ' ' <"$ERR")")
        want_families=$GOLDEN_FAMILIES
        want_labels=$GOLDEN_LABELS
        sources="timer ready"
        if [[ $kind == echo || $kind == rpc ]]; then
            want_families=$(printf '%s\n' "$GOLDEN_FAMILIES" "$NETWORK_FAMILIES" | sort)
            want_labels=$(printf '%s\n' "$GOLDEN_LABELS" "$NETWORK_LABELS" | sort)
            sources="timer ready io"
        fi
        got=$(families "$metrics")
        [[ $got == "$want_families" ]] ||
            PROBLEMS+=("families differ from the golden list: $(diff <(echo "$want_families") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')")
        got=$(label_sets "$metrics")
        [[ $got == "$want_labels" ]] ||
            PROBLEMS+=("label sets differ: $(diff <(echo "$want_labels") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')")
        got=$(grep '^corostorm_schedule_latency_seconds_count{' "$metrics" | sed 's/.*source="\([^"]*\)".*/\1/' | tr '\n' ' ')
        expect_eq "schedule latency sources" "${got% }" "$sources"
        if [[ -n $COROSTORM_SETS ]]; then
            # Whatever the peer exports, corostorm exports alike.
            missing=$(comm -23 <(families "$metrics") <(echo "$COROSTORM_FAMILIES"))
            [[ -z $missing ]] || PROBLEMS+=("families corostorm does not have: $(echo "$missing" | tr '\n' ' ')")
            missing=$(comm -23 <(label_sets "$metrics") <(echo "$COROSTORM_SETS"))
            [[ -z $missing ]] || PROBLEMS+=("label sets corostorm does not have: $(echo "$missing" | tr '\n' ' ')")
        fi
        if grep -E '^corostorm_' "$metrics" | grep -v -q 'engine="go"'; then
            PROBLEMS+=("a corostorm_ sample without engine=\"go\"")
        fi
        le=$(grep "^corostorm_schedule_latency_seconds_bucket{.*source=\"$source\"" "$metrics" |
            sed 's/.*le="\([^"]*\)".*/\1/' | tr '\n' ' ')
        [[ ${le% } == "$GOLDEN_LE" ]] || PROBLEMS+=("le bounds are '${le% }'")
        compiler=$(grep '^corostorm_build_info' "$metrics" | sed 's/.*compiler="\([^"]*\)".*/\1/')
        [[ $compiler == go1.* ]] || PROBLEMS+=("build_info compiler is '$compiler'")
        grep -q "^corostorm_build_info{version=\"$VERSION\"," "$metrics" || PROBLEMS+=("build_info version is not $VERSION")
        metric_value "$metrics" corostorm_build_info "revision=$PEER_REVISION" >/dev/null ||
            PROBLEMS+=("build_info revision is not $PEER_REVISION: $(grep '^corostorm_build_info' "$metrics")")
        expect_eq tasks_target "$(metric_value "$metrics" corostorm_tasks_target engine=go)" "$tasks"
        rss=$(metric_value "$metrics" corostorm_memory_per_task_bytes engine=go method=rss || echo none)
        num_cmp "$rss" '>=' 0 || PROBLEMS+=("memory_per_task_bytes{method=rss} is '$rss'")
        count=$(latency_count "$metrics" "$kind" "$source" || echo 0)
        poll_until 10 latency_grew "$kind" "$source" "$count" ||
            PROBLEMS+=("source=$source latency count did not grow past $count within 10 s")
        case $kind in
        echo) network_checks "$metrics" echo "$tasks" $((tasks / 2)) 0 ;;
        rpc) network_checks "$metrics" rpc "$tasks" 4 $((tasks * 10)) ;; # period 100ms: 10 calls a second each
        esac
    fi
    status_is 200 "$PEER_URL/healthz" || PROBLEMS+=("/healthz answered $HTTP_STATUS")
    status_is 404 "$PEER_URL/nope" || PROBLEMS+=("/nope answered $HTTP_STATUS, want 404")
    http POST "$PEER_URL/metrics"
    [[ $HTTP_STATUS == 405 ]] || PROBLEMS+=("POST /metrics answered $HTTP_STATUS, want 405")
    stop_and_wait "$PEER_PID" TERM 15
    expect_eq "exit code after SIGTERM" "$STOP_RC" 0
    grep -q 'drained' "$PEER_LOG" || PROBLEMS+=("no 'drained' line after SIGTERM")
    [[ $kind != echo ]] || drain_gave_back_fds
    cp "$PEER_LOG" "$ERR"
    case_end "serve --workload $kind --tasks $tasks $extra${RPC_RATE:+ ($RPC_RATE round trips/s)}"
    RPC_RATE=""
done

# ---------------------------------------------- echo past its descriptors ----
# 200 echo tasks hold 200 descriptors; under a limit of 100 dials and accepts
# fail with EMFILE. The peer must log it, keep running, and still drain on
# SIGTERM (closing its listeners resets the connections no handler accepted).
# /metrics is not scraped: with no descriptor left its server cannot accept.
case_start
PEERS_STARTED=$((PEERS_STARTED + 1))
start_bg "peer-$PEERS_STARTED" bash -c 'ulimit -n 100 && exec "$@"' peer "$PEER" --listen 127.0.0.1:0 \
    --tasks 200 --workload echo --period 100ms --threads 2
PEER_PID=$BG_PID
PEER_LOG=$BG_LOG
emfile_logged() { grep -a -q 'too many open files' "$PEER_LOG"; }
poll_until 20 emfile_logged || PROBLEMS+=("no 'too many open files' line within 20 s")
grep -a -q 'warning: 200 echo tasks hold 200 descriptors' "$PEER_LOG" || PROBLEMS+=("no warning about the descriptor limit")
pid_alive "$PEER_PID" || PROBLEMS+=("the peer exited")
stop_and_wait "$PEER_PID" TERM 30
expect_eq "exit code after SIGTERM" "$STOP_RC" 0
drain_gave_back_fds
cp "$PEER_LOG" "$ERR"
case_end "serve --workload echo --tasks 200 under a limit of 100 descriptors (EMFILE)"

# ----------------------------------------------------------- prove mode ----
# expect_keys JQ_PATH...: each key is in the report.
expect_keys() {
    local key parent
    for key in "$@"; do
        parent=${key%.*}
        [[ -z $parent ]] && parent=.
        [[ $(jq "$parent | has(\"${key##*.}\")" "$OUT" 2>/dev/null) == true ]] || PROBLEMS+=("$key missing")
    done
}

# Keys the peer's report has besides corostorm's documented ones.
readonly PEER_REPORT_KEYS=(.connections .io_round_trip .memory_per_task_bytes.kernel)

PROVE_CASES=(
    "sleep 10000 timer --period 100ms"
    "yield 1000 ready"
    "ring 1000 ready"
    "spawn_tree 1365 ready --fanout 4 --depth 5"
    "echo 400 timer --period 100ms --message 64"
    "rpc 10000 io --connections 4 --period 100ms"
)
for spec in "${PROVE_CASES[@]}"; do
    read -r kind tasks source extra <<<"$spec"
    read -r -a extra_args <<<"$extra"
    case_start
    run_capture "$CMD_TIMEOUT" "$OUT" "$ERR" "$PEER" --prove --json --tasks "$tasks" --workload "$kind" \
        --threads 2 --duration 2s "${extra_args[@]}"
    expect_eq "exit code" "$RUN_RC" 0
    if jq -e 'type == "object"' "$OUT" >/dev/null 2>&1; then
        expect_keys "${PROVE_REPORT_KEYS[@]}" "${PEER_REPORT_KEYS[@]}"
        expect_eq reached "$(j .reached)" true
        expect_eq reason "$(j .reason)" null
        expect_eq engine "$(j .engine)" go
        expect_eq workload "$(j .workload)" "$kind"
        expect_eq threads "$(j .threads)" 2
        expect_eq target "$(j .target)" "$tasks"
        expect_eq "memory_per_task_bytes has frame" "$(j '.memory_per_task_bytes | has("frame")')" false
        if [[ $kind == spawn_tree ]]; then
            num_cmp "$(j .tasks)" '>=' "$tasks" || PROBLEMS+=("tasks is '$(j .tasks)', want >= $tasks")
            expect_gt seconds_per_tree "$(j .seconds_per_tree)" 0
        else
            expect_eq live_tasks "$(j .live_tasks)" "$tasks"
            expect_eq seconds_per_tree "$(j .seconds_per_tree)" null
            expect_gt "memory_per_task_bytes.rss" "$(j .memory_per_task_bytes.rss)" 0
            expect_gt "memory_per_task_bytes.heap" "$(j .memory_per_task_bytes.heap)" 0
        fi
        expect_gt spawn_rate_per_second "$(j .spawn_rate_per_second)" 0
        num_between "$(j .time_to_target_seconds)" 0 2 || PROBLEMS+=("time_to_target_seconds is '$(j .time_to_target_seconds)'")
        expect_gt measure_seconds "$(j .measure_seconds)" 0
        expect_gt resumes_per_second "$(j .resumes_per_second)" 0
        expect_gt cpu_ns_per_resume "$(j .cpu_ns_per_resume)" 0
        expect_gt peak_resident_bytes "$(j .peak_resident_bytes)" 0
        expect_gt "latency $source count" "$(j ".latency_seconds.$source.count")" 0
        num_cmp "$(j ".latency_seconds.$source.p50")" '<=' "$(j ".latency_seconds.$source.p99")" ||
            PROBLEMS+=("latency $source: p50 > p99")
        num_cmp "$(j ".latency_seconds.$source.p999")" '<=' "$(j ".latency_seconds.$source.max")" ||
            PROBLEMS+=("latency $source: p99.9 > max")
        case $kind in
        echo | rpc)
            connections=$((tasks / 2))
            [[ $kind == rpc ]] && connections=4
            expect_eq connections "$(j .connections)" "$connections"
            expect_gt "io_round_trip count" "$(j .io_round_trip.count)" 0
            num_cmp "$(j .io_round_trip.p50)" '<=' "$(j .io_round_trip.p99)" || PROBLEMS+=("io_round_trip: p50 > p99")
            num_cmp "$(j .io_round_trip.p999)" '<=' "$(j .io_round_trip.max)" || PROBLEMS+=("io_round_trip: p99.9 > max")
            for key in count p50 p90 p99 p999 max; do
                [[ $(j ".io_round_trip | has(\"$key\")") == true ]] || PROBLEMS+=("io_round_trip.$key missing")
            done
            ;;
        *)
            expect_eq connections "$(j .connections)" 0
            expect_eq io_round_trip "$(j .io_round_trip)" null
            ;;
        esac
        if [[ $kind != spawn_tree ]]; then
            num_cmp "$(j .memory_per_task_bytes.kernel)" '>=' 0 ||
                PROBLEMS+=("memory_per_task_bytes.kernel is '$(j .memory_per_task_bytes.kernel)'")
        fi
        [[ $(j .machine.compiler) == go1.* ]] || PROBLEMS+=("machine.compiler is '$(j .machine.compiler)'")
        expect_eq machine.corostorm "$(j .machine.corostorm)" "$VERSION"
        expect_eq machine.boost "$(j .machine.boost)" null
    else
        PROBLEMS+=("stdout is not one JSON object")
    fi
    case_end "prove --json --workload $kind --tasks $tasks $extra"
done

# ------------------------------------------------------------ bad flags ----
# ARGS | the flag the message must name | part of what is allowed
BAD_FLAGS=(
    "--prove --tasks 0|--tasks|between 1 and 10G"
    "--prove --tasks 1k --threads 2000|--threads|between 0 and 1024"
    "--prove --tasks 1k --duration 0s|--duration|between 1s and 1d"
    "--prove --tasks 1k --workload cpu|--workload|sleep, yield, ring, spawn_tree, echo, rpc"
    "--prove --tasks 150 --workload ring|--tasks|multiple of 100"
    "--prove --tasks 1k --period 5us|--period|between 1ms and 1d"
    "--prove --tasks 1k --workload spawn_tree --depth 30|--depth|between 1 and 20"
    "--tasks 1k --json|--json|--prove"
    "--prove --tasks 1k --workload rpc --message 8|--message|between 16 and 65536"
    "--prove --tasks 1k --workload rpc --message 70000|--message|between 16 and 65536"
    "--prove --tasks 1k --workload echo --message 0|--message|between 1 and 65536"
    "--prove --tasks 1k --workload rpc --connections 0|--connections|between 1 and 1024"
    "--prove --tasks 1k --workload rpc --connections 2000|--connections|between 1 and 1024"
    "--prove --tasks 1k --workload echo --period 0s|--period|between 1ms and 1d"
    "--prove --tasks 1k --workload rpc --period 2d|--period|between 1ms and 1d"
    "--prove --tasks 401 --workload echo|--tasks|multiple of 2"
)
for entry in "${BAD_FLAGS[@]}"; do
    IFS='|' read -r args flag allowed <<<"$entry"
    read -r -a argv <<<"$args"
    case_start
    run_capture 10 "$OUT" "$ERR" "$PEER" "${argv[@]}"
    expect_eq "exit code" "$RUN_RC" 2
    grep -q -F -- "$flag" "$ERR" || PROBLEMS+=("the message does not name $flag")
    grep -q -F -- "$allowed" "$ERR" || PROBLEMS+=("the message does not say '$allowed'")
    [[ ! -s $OUT ]] || PROBLEMS+=("printed something on stdout")
    case_end "peer $args"
done

# ------------------------------------------- corostorm prove --against-go ----
if [[ -n $BIN ]]; then
    case_start
    run_capture "$CMD_TIMEOUT" "$OUT" "$ERR" "$BIN" prove --tasks 10k --threads 1 --duration 2s --json \
        --against-go --go-peer "$PEER"
    expect_eq "exit code" "$RUN_RC" 0
    if jq -e 'type == "object"' "$OUT" >/dev/null 2>&1; then
        expect_eq engine "$(j .engine)" lean
        expect_eq reached "$(j .reached)" true
        expect_eq go.engine "$(j .go.engine)" go
        expect_eq go.reached "$(j .go.reached)" true
        expect_eq go.target "$(j .go.target)" 10000
        expect_eq go.threads "$(j .go.threads)" 1
        expect_eq go.live_tasks "$(j .go.live_tasks)" 10000
        expect_eq go_error "$(j .go_error)" null
        expect_gt go.memory_per_task_bytes.rss "$(j .go.memory_per_task_bytes.rss)" 0
        expect_gt "go timer count" "$(j .go.latency_seconds.timer.count)" 0
    else
        PROBLEMS+=("stdout is not one JSON object")
    fi
    grep -q -F 'running the Go peer: ' "$ERR" || PROBLEMS+=("no 'running the Go peer' note on stderr")
    case_end "corostorm prove --json --against-go --go-peer PEER"

    # Without --go-peer: corostorm builds the peer into its cache directory
    # (with the GOCACHE exported above, so nothing is compiled twice).
    case_start
    run_capture "$CMD_TIMEOUT" "$OUT" "$ERR" env XDG_CACHE_HOME="$BUILD_DIR/xdg-cache" \
        "$BIN" prove --tasks 1k --workload ring --threads 1 --duration 2s --against-go
    expect_eq "exit code" "$RUN_RC" 0
    [[ -x $BUILD_DIR/xdg-cache/corostorm/go-peer/corostorm-go-peer ]] ||
        PROBLEMS+=("no peer built in \$XDG_CACHE_HOME/corostorm/go-peer")
    for label in '^ +lean +go +lean/go$' '^  reached +yes +yes' '^  spawn rate +[0-9,]+ /s +[0-9,]+ /s +[0-9.e+-]+x$' \
        '^  rss +[0-9.]+ B +[0-9.]+ B +[0-9.e+-]+x$' '^  ready p50 +[0-9.]+ [mu]?s +[0-9.]+ [mu]?s' \
        '^  compiler +g\+\+ .* go1\.'; do
        grep -E -q -- "$label" "$OUT" || PROBLEMS+=("no line matching '$label'")
    done
    case_end "corostorm prove --workload ring --against-go (table, peer built into the cache)"
fi

echo
echo "$((CASES - E2E_FAILED)) of $CASES cases passed, $E2E_FAILED failed"
((E2E_FAILED == 0))
