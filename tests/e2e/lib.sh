# shellcheck shell=bash disable=SC2034  # the globals set here are read by the test scripts
# Shared helpers for the end-to-end tests. Source it from a test script that
# runs under `set -euo pipefail`:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   e2e_init
#
# Tools used: bash, curl, jq, awk, grep and coreutils. Everything that waits
# polls a condition with a deadline; nothing sleeps for a fixed time and hopes.
#
# Helpers that need to hand back more than one value set globals (documented
# on each) instead of printing, so that they can run in the current shell and
# keep track of the processes they start.

# ---------------------------------------------------------------- setup ----

E2E_TMP=""           # per-run scratch directory, removed at exit
E2E_PIDS=()          # background processes to reap at exit
E2E_LOGS=()          # log files shown when the test fails
E2E_DAEMONS=0        # daemons started so far (names their logs)
E2E_POLL_MAX_MS=200  # longest pause between two polls

# Creates the scratch directory and installs the cleanup trap.
e2e_init() {
    E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/corostorm-e2e.XXXXXX")
    trap e2e_cleanup EXIT
    # Turn INT/TERM (say, a CTest timeout) into a normal exit so the EXIT
    # trap still stops what this script started.
    trap 'echo "e2e: interrupted (SIGINT)" >&2; exit 130' INT
    trap 'echo "e2e: terminated (SIGTERM)" >&2; exit 143' TERM
    # A command that fails where `set -e` stops the script says where, so a
    # test never ends without a word.
    set -E
    trap 'echo "e2e: stopped at ${BASH_SOURCE[0]##*/} line $LINENO: \"$BASH_COMMAND\" exited $?" >&2' ERR
}

e2e_cleanup() {
    local rc=$?
    set +e
    trap - ERR  # cleanup steps may fail quietly
    local pid
    # Stop whatever still runs: politely, then not. The redirection keeps
    # bash's "Terminated"/"Killed" notices out of the test output.
    for pid in "${E2E_PIDS[@]}"; do
        {
            kill -TERM "$pid"
            wait_pid_exit "$pid" 10 || kill -KILL "$pid"
            wait "$pid"
        } 2>/dev/null
    done
    if ((rc != 0)); then
        local log
        for log in "${E2E_LOGS[@]}"; do
            [[ -s $log ]] || continue
            echo "---- last lines of $(basename "$log") ----" >&2
            tail -n 40 "$log" >&2
        done
    fi
    [[ -n $E2E_TMP && -d $E2E_TMP ]] && rm -rf "$E2E_TMP"
    exit "$rc"
}

# ------------------------------------------------------------ reporting ----

E2E_FAILED=0

ok() { echo "ok   - $*"; }

# Records a failure and keeps going (for scripts that report every case).
not_ok() {
    echo "FAIL - $*"
    E2E_FAILED=$((E2E_FAILED + 1))
}

# Table-driven scripts: case_start, checks that append to PROBLEMS, then
# case_end NAME, which prints one line and, on failure, the case's output.
# The script sets OUT and ERR (files the case writes) and CASES=0.
case_start() {
    PROBLEMS=()
    : >"$OUT"
    : >"$ERR"
}

case_end() {
    local name=$1
    CASES=$((CASES + 1))
    if ((${#PROBLEMS[@]} == 0)); then
        ok "$name"
        return
    fi
    local IFS=';'
    not_ok "$name: ${PROBLEMS[*]}"
    echo "       stdout: $(head -c 600 "$OUT" | tr '\n' '|')"
    echo "       stderr: $(tail -c 600 "$ERR" | tr '\n' '|')"
}

# For scripts that report every check with ok/not_ok: the summary line, and
# exit 1 if any check failed.
e2e_finish() {
    echo
    if ((E2E_FAILED > 0)); then
        echo "$E2E_FAILED check(s) failed"
        exit 1
    fi
    echo "all checks passed"
}

# Stops the test: later steps depend on this one.
die() {
    echo "FAIL - $*" >&2
    exit 1
}

skip_test() {
    echo "SKIP - $*"
    exit 77  # CTest's SKIP_RETURN_CODE
}

# binary_arg USAGE ARGS...: sets BIN to the first of ARGS, the corostorm binary
# the test drives; exits 2 with "usage: SCRIPT USAGE" when it is missing, or when
# it is not an executable.
binary_arg() {
    local usage=$1
    shift
    (($# >= 1)) || { echo "usage: $0 $usage" >&2; exit 2; }
    BIN=$1
    [[ -x $BIN ]] || { echo "not an executable: $BIN" >&2; exit 2; }
}

require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "required tool not found: $tool"
    done
}

# ------------------------------------------------------------ processes ----

# True while PID runs. A child that exited but was not yet reaped is a zombie
# and still answers `kill -0`, so look at its state in /proc.
pid_alive() {
    local pid=$1 stat
    # `read`, not $(<file): bash 5.2 reads $(<file) in the shell itself, and
    # when the file vanishes between the check and the read (the process was
    # reaped) that failed redirection ends the whole script, || or not.
    { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }  # the command name is in parentheses and may hold spaces
    [[ ${stat%% *} != Z ]]
}

# Waits up to SECONDS for PID to end. Returns 0 once it has ended, 1 if it
# still runs at the deadline. Call `reap PID` afterwards for its exit code.
wait_pid_exit() {
    local pid=$1 timeout=$2 deadline
    deadline=$(deadline_after "$timeout")
    local pause_ms=10
    while pid_alive "$pid"; do
        past_deadline "$deadline" && return 1
        poll_pause
    done
    return 0
}

# reap PID: collects the exit status of a child that has ended (or is being
# killed) into REAP_RC and stops tracking it, so that the cleanup never
# signals a PID the kernel may have handed to another process since.
reap() {
    local pid=$1 p kept=()
    REAP_RC=0
    # Braces: only then does the redirection also silence bash's "Killed" notice.
    { wait "$pid"; } 2>/dev/null || REAP_RC=$?
    for p in "${E2E_PIDS[@]}"; do
        [[ $p == "$pid" ]] || kept+=("$p")
    done
    E2E_PIDS=("${kept[@]}")
}

# start_bg NAME CMD [ARGS...]: runs CMD in the background, stdout and stderr
# to $E2E_TMP/NAME.log, stdin from /dev/null.
# Sets BG_PID and BG_LOG.
start_bg() {
    local name=$1
    shift
    BG_LOG=$E2E_TMP/$name.log
    "$@" </dev/null >"$BG_LOG" 2>&1 &
    BG_PID=$!
    E2E_PIDS+=("$BG_PID")
    E2E_LOGS+=("$BG_LOG")
}

# run_capture SECONDS OUT ERR CMD [ARGS...]: runs CMD to completion with
# stdout to OUT and stderr to ERR. Sets RUN_RC to its exit code, or to 124 if
# it was still running after SECONDS (it is then killed).
run_capture() {
    local timeout=$1 out=$2 err=$3
    shift 3
    run_capture_unless "$timeout" "$out" "$err" "" "$@"
}

# run_capture_unless SECONDS OUT ERR TEXT CMD [ARGS...]: like run_capture,
# but also kills CMD as soon as TEXT (a fixed string) shows up in its stdout
# or stderr, and then sets RUN_RC to 125. For commands that should fail fast
# and would otherwise go on running, e.g. a daemon that should have refused
# its config but started serving instead.
run_capture_unless() {
    local timeout=$1 out=$2 err=$3 text=$4
    shift 4
    "$@" </dev/null >"$out" 2>"$err" &
    local pid=$! deadline pause_ms=10
    E2E_PIDS+=("$pid")
    deadline=$(deadline_after "$timeout")
    RUN_RC=""
    while pid_alive "$pid"; do
        if [[ -n $text ]] && grep -q -F -- "$text" "$out" "$err"; then
            RUN_RC=125
            break
        fi
        if past_deadline "$deadline"; then
            RUN_RC=124
            break
        fi
        poll_pause
    done
    if [[ -n $RUN_RC ]]; then
        kill_and_reap "$pid"
    else
        reap "$pid"
        RUN_RC=$REAP_RC
    fi
}

# kill_and_reap PID: SIGKILL and collect, without bash's "Killed" notice.
kill_and_reap() {
    { kill -KILL "$1" && reap "$1"; } 2>/dev/null || true
}

# stop_and_wait PID SIGNAL SECONDS: sends SIGNAL and waits for the exit.
# Sets STOP_RC to the exit code, or to 124 if PID outlived the deadline (it
# is then killed).
stop_and_wait() {
    local pid=$1 sig=$2 timeout=$3
    kill -"$sig" "$pid" 2>/dev/null || true  # already gone: its exit code still tells how
    if wait_pid_exit "$pid" "$timeout"; then
        reap "$pid"
        STOP_RC=$REAP_RC
    else
        kill_and_reap "$pid"
        STOP_RC=124
    fi
}

# -------------------------------------------------------------- polling ----

deadline_after() { echo $((SECONDS + $1)); }
past_deadline() { ((SECONDS >= $1)); }

# poll_pause: sleeps between two polls, 10 ms at first and doubling up to
# E2E_POLL_MAX_MS, so that a short wait costs little and a long one does not
# spin. Each waiting function declares `local pause_ms=10`; bash's dynamic
# scoping lets poll_pause update that caller's copy.
poll_pause() {
    sleep "$((pause_ms / 1000)).$(printf '%03d' $((pause_ms % 1000)))"
    pause_ms=$((pause_ms * 2 > E2E_POLL_MAX_MS ? E2E_POLL_MAX_MS : pause_ms * 2))
}

# poll_until SECONDS CMD [ARGS...]: runs CMD until it succeeds (returns 0) or
# SECONDS pass (returns 1). CMD runs in this shell, so it may set globals.
poll_until() {
    local timeout=$1 deadline
    shift
    deadline=$(deadline_after "$timeout")
    local pause_ms=10
    until "$@"; do
        past_deadline "$deadline" && return 1
        poll_pause
    done
}

# ---------------------------------------------------------- the daemon ----

# The line the daemon logs once its HTTP server listens.
readonly E2E_SERVING_LINE='serving /metrics /healthz /readyz /status on '

# wait_for_listen LOG PID SECONDS: waits for the "serving ... on HOST:PORT"
# line in LOG. Fails early if PID exits first. Sets PORT.
wait_for_listen() {
    local log=$1 pid=$2 timeout=$3 deadline line
    local pause_ms=10
    deadline=$(deadline_after "$timeout")
    PORT=""
    while :; do
        line=$(grep -m1 -F -- "$E2E_SERVING_LINE" "$log" 2>/dev/null || true)
        if [[ -n $line ]]; then
            # Take the address after the marker up to the next blank; the
            # port follows its last ':' (so "[::1]:9464" works too).
            local addr=${line#*"$E2E_SERVING_LINE"}
            addr=${addr%% *}
            PORT=${addr##*:}
            [[ $PORT =~ ^[0-9]+$ ]] || die "cannot parse a port from: $line"
            return 0
        fi
        pid_alive "$pid" || die "process $pid exited before it started serving"
        past_deadline "$deadline" && die "no '${E2E_SERVING_LINE}HOST:PORT' line in $log after ${timeout}s"
        poll_pause
    done
}

# start_daemon BIN [ARGS...]: starts the daemon and waits until it listens.
# Sets DAEMON_PID, DAEMON_LOG, PORT and BASE_URL.
start_daemon() {
    E2E_DAEMONS=$((E2E_DAEMONS + 1))
    start_bg "corostorm-$E2E_DAEMONS" "$@"
    DAEMON_PID=$BG_PID
    DAEMON_LOG=$BG_LOG
    wait_for_listen "$DAEMON_LOG" "$DAEMON_PID" 60
    BASE_URL=http://127.0.0.1:$PORT
}

# Sanitizer and abort reports that must never appear in a daemon's output.
no_crash_reports() {
    local file=$1
    ! grep -E -q 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|terminate called|Aborted|Segmentation fault' "$file"
}

# ----------------------------------------------------------------- HTTP ----

# http METHOD URL [CURL ARGS...]: one request. Sets HTTP_STATUS (000 when no
# response arrived), HTTP_BODY (trailing newlines removed), HTTP_BODY_FILE
# (the body byte for byte) and HTTP_HEADERS_FILE. Never fails by itself.
# HEAD goes through curl's --head, which reads no body whatever the server
# sends; raw_request is the way to see the bytes on the wire.
http() {
    local method=$1 url=$2
    shift 2
    HTTP_BODY_FILE=$E2E_TMP/http-body
    HTTP_HEADERS_FILE=$E2E_TMP/http-headers
    : >"$HTTP_BODY_FILE"
    : >"$HTTP_HEADERS_FILE"
    local -a how=(-X "$method" -o "$HTTP_BODY_FILE")
    # -X HEAD would make curl wait for a body that never comes; --head puts
    # the headers on the output, so send that to /dev/null (-D keeps them).
    [[ $method == HEAD ]] && how=(--head -o /dev/null)
    HTTP_STATUS=$(curl -sS --max-time 10 "${how[@]}" -D "$HTTP_HEADERS_FILE" \
        -w '%{http_code}' "$@" "$url" 2>"$E2E_TMP/http-error") || true
    [[ -n $HTTP_STATUS ]] || HTTP_STATUS=000
    HTTP_BODY=$(<"$HTTP_BODY_FILE")
}

http_get() { http GET "$@"; }

# raw_request PORT REQUEST: writes REQUEST (printf %b escapes, so \r\n works)
# to 127.0.0.1:PORT over a plain TCP connection and reads until the server
# closes it; ask for that with "Connection: close". Sets RAW_STATUS_LINE,
# RAW_HEADERS_FILE and RAW_BODY_BYTES (bytes after the blank line that ends
# the headers). Fails if nothing comes back within 10 s.
raw_request() {
    local port=$1 request=$2 raw=$E2E_TMP/raw-response
    run_capture 10 "$raw" "$E2E_TMP/raw-error" \
        bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "%b" "$2" >&3 && cat <&3' _ "$port" "$request"
    ((RUN_RC == 0)) || return 1
    RAW_HEADERS_FILE=$E2E_TMP/raw-headers
    # Split at the first empty line; count the header bytes as they were on
    # the wire (each line plus its CR LF) to find where the body starts.
    local header_bytes total_bytes
    header_bytes=$(LC_ALL=C awk -v out="$RAW_HEADERS_FILE" '
        { n += length($0) + 1; line = $0; sub(/\r$/, "", line) }
        line == "" { print n; found = 1; exit }
        { print line > out }
        END { if (!found) print -1 }' "$raw")
    ((header_bytes >= 0)) || return 1
    total_bytes=$(wc -c <"$raw")
    RAW_BODY_BYTES=$((total_bytes - header_bytes))
    RAW_STATUS_LINE=$(head -n1 "$RAW_HEADERS_FILE")
}

# header_value FILE NAME: the value of header NAME (case-insensitive) in FILE
# (one "Name: value" per line, CR allowed), empty if absent.
header_value() {
    awk -v want="$2" '
        BEGIN { want = tolower(want) }
        { sub(/\r$/, ""); i = index($0, ":"); if (i == 0) next }
        tolower(substr($0, 1, i - 1)) == want {
            v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit
        }' "$1"
}

# http_header NAME: header NAME of the last http() response.
http_header() { header_value "$HTTP_HEADERS_FILE" "$1"; }

# True when GET URL answers STATUS (a poll_until condition).
status_is() {
    http_get "$2"
    [[ $HTTP_STATUS == "$1" ]]
}

# ------------------------------------------------- Prometheus text format ----

# metric_value FILE NAME [LABEL=VALUE...]: prints the value of the first
# sample of NAME in the exposition text FILE that carries every given label
# with exactly that value (other labels may be present). Fails if none does.
metric_value() {
    local file=$1 name=$2
    shift 2
    awk -v name="$name" -v want="$(printf '%s\n' "$@")" '
        BEGIN { n = split(want, pairs, "\n") }
        /^#/ || NF == 0 { next }
        {
            line = $0
            if (substr(line, 1, length(name)) != name) next
            rest = substr(line, length(name) + 1)
            labels = ""
            if (substr(rest, 1, 1) == "{") {
                close_at = index(rest, "} ")
                if (close_at == 0) next
                labels = "," substr(rest, 2, close_at - 2) ","
                rest = substr(rest, close_at + 1)
            } else if (substr(rest, 1, 1) != " ") {
                next  # a longer metric name that starts with this one
            }
            for (i = 1; i <= n; i++) {
                if (pairs[i] == "") continue
                eq = index(pairs[i], "=")
                key = substr(pairs[i], 1, eq - 1)
                val = substr(pairs[i], eq + 1)
                if (index(labels, "," key "=\"" val "\",") == 0) next
            }
            split(rest, fields, " ")
            print fields[1]
            found = 1
            exit
        }
        END { exit !found }
    ' "$file"
}

# ------------------------------------------------------------- numbers ----

# True if $1 is a finite decimal number (plain or with an exponent).
is_number() { [[ $1 =~ ^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$ ]]; }

# num_cmp A OP B with OP one of < <= == >= > (floating point, via awk).
num_cmp() {
    is_number "$1" && is_number "$3" || return 1
    awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
        a += 0; b += 0
        if (op == "<")  exit !(a <  b)
        if (op == "<=") exit !(a <= b)
        if (op == "==") exit !(a == b)
        if (op == ">=") exit !(a >= b)
        if (op == ">")  exit !(a >  b)
        exit 2
    }'
}

# num_between X LO HI: LO <= X <= HI.
num_between() { num_cmp "$1" '>=' "$2" && num_cmp "$1" '<=' "$3"; }

# ----------------------------------------------------------- Prometheus ----

PROM_PID=""  # set by start_prometheus
PROM_LOG=""
PROM_URL=""  # http://127.0.0.1:PORT

# write_prometheus_config FILE TARGET [RULE_FILE...]: a config that scrapes
# TARGET (job corostorm) and evaluates rules every second, loading the rule
# files by absolute path.
write_prometheus_config() {
    local file=$1 target=$2 rule
    shift 2
    {
        printf 'global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n'
        if (($#)); then
            echo "rule_files:"
            for rule in "$@"; do echo "  - '$(cd "$(dirname "$rule")" && pwd)/$(basename "$rule")'"; done
        fi
        printf 'scrape_configs:\n  - job_name: corostorm\n    static_configs:\n      - targets: [%s]\n' "'$target'"
    } >"$file"
}

# port_in_use PORT: something accepts connections there.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# prometheus_settled: a poll condition; Prometheus is either ready or gone.
prometheus_settled() { ! pid_alive "$PROM_PID" || status_is 200 "$PROM_URL/-/ready"; }

# start_prometheus CONFIG TIMEOUT: a real Prometheus on a free loopback port,
# ready to answer. Prometheus cannot be told to pick a port and report it, so
# this tries random free ones; another process may take the port between the
# check and the bind, in which case Prometheus exits and the next try takes
# another port. Sets PROM_PID, PROM_LOG and PROM_URL.
start_prometheus() {
    local config=$1 timeout=$2 try port
    PROM_PID=""
    for ((try = 1; try <= 5; try++)); do
        port=$((20000 + RANDOM % 40000))
        port_in_use "$port" && continue
        mkdir -p "$E2E_TMP/tsdb-$try"
        start_bg "prometheus-$try" prometheus \
            --config.file="$config" \
            --storage.tsdb.path="$E2E_TMP/tsdb-$try" \
            --web.listen-address="127.0.0.1:$port"
        PROM_PID=$BG_PID
        PROM_LOG=$BG_LOG
        PROM_URL=http://127.0.0.1:$port
        poll_until "$timeout" prometheus_settled || die "Prometheus on port $port not ready after ${timeout}s"
        pid_alive "$PROM_PID" && break
        reap "$PROM_PID"
        grep -q -i 'address already in use' "$PROM_LOG" ||
            die "Prometheus exited with code $REAP_RC: $(tail -n 5 "$PROM_LOG")"
        echo "# port $port was taken; trying another"
        PROM_PID=""
    done
    [[ -n $PROM_PID ]] || die "no free port for Prometheus after 5 tries"
    ok "Prometheus ready on $PROM_URL (pid $PROM_PID)"
}

# ---------------------------------------------------------- prove report ----

# The keys of a `corostorm prove --json` report that docs/prove.md documents, as
# jq paths (`frame` exists only on the lean engine, so it is not listed). The
# Go peer's prove report has the same keys.
readonly PROVE_REPORT_KEYS=(
    .reached .reason .target .tasks .live_tasks .workload .engine .layout .threads
    .time_to_target_seconds .spawn_rate_per_second .memory_per_task_bytes
    .memory_per_task_bytes.heap .memory_per_task_bytes.rss .measure_seconds
    .resumes_per_second .latency_seconds .cpu_seconds .measure_cpu_seconds
    .cpu_ns_per_resume .seconds_per_tree .peak_resident_bytes .machine .machine.cpu_model
    .machine.cpus .machine.memory_bytes .machine.kernel .machine.compiler
    .machine.boost .machine.corostorm
)
