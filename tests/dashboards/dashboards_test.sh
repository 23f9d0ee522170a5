#!/usr/bin/env bash
# The Grafana dashboards in dashboards/ against a real corostorm and a real
# Prometheus. First the JSON: it parses, the generator's output is current,
# uids are the documented ones, schemaVersion 39, __inputs (DS_PROMETHEUS) and
# __requires (every panel type used) for an import by file, links to the other
# two dashboards, a row layout (rows first, no panel overlapping another or
# past 24 columns), panel ids are unique, every panel has a unit and the
# ${datasource} datasource, every variable a query uses is defined.
# Then every panel query and every variable query, with the variables
# substituted as Grafana would, must parse and return at least one series
# while a mixed scenario (sleep + yield + ring + echo + rpc) runs, and no
# panel series may carry an instance label: panels aggregate across the
# selected instances. The panels that split by source, method or workload
# must show the I/O series too.
#
# usage: dashboards_test.sh BIN SRC_DIR
# Exits 77 (skipped) when the prometheus binary is not installed.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

(($# >= 2)) || { echo "usage: $0 BIN SRC_DIR" >&2; exit 2; }
BIN=$1
SRC=$2
[[ -x $BIN ]] || { echo "not an executable: $BIN" >&2; exit 2; }
command -v prometheus >/dev/null 2>&1 || skip_test "prometheus is not installed (looked in PATH=$PATH)"
require_tools curl jq awk grep sed python3

e2e_init

readonly DASH=$SRC/dashboards
readonly TIMEOUT=45
declare -A WANT_UID=([overview]=corostorm-overview [latency]=corostorm-latency [memory]=corostorm-memory)

# ------------------------------------------------------------ structure ----
python3 "$DASH/generate.py" --check || die "dashboards/*.json differ from what dashboards/generate.py writes"
ok "dashboards/*.json match dashboards/generate.py"

for name in "${!WANT_UID[@]}"; do
    file=$DASH/$name.json
    [[ -f $file ]] || { not_ok "$name.json is missing"; continue; }
    jq empty "$file" 2>/dev/null || { not_ok "$name.json is not valid JSON"; continue; }
    uid=$(jq -r '.uid // ""' "$file")
    [[ $uid == "${WANT_UID[$name]}" ]] && ok "$name.json: uid $uid" ||
        not_ok "$name.json: uid '$uid', want '${WANT_UID[$name]}'"

    # Import by file and layout.
    jq -e '.schemaVersion == 39' "$file" >/dev/null && ok "$name.json: schemaVersion 39" ||
        not_ok "$name.json: schemaVersion $(jq '.schemaVersion' "$file"), want 39"
    jq -e 'any(.__inputs[]?; .name == "DS_PROMETHEUS" and .type == "datasource" and .pluginId == "prometheus")' \
        "$file" >/dev/null && ok "$name.json: __inputs has the DS_PROMETHEUS datasource input" ||
        not_ok "$name.json: no DS_PROMETHEUS datasource input in __inputs"
    bad=$(jq -r '[.__requires[]? | "\(.type)/\(.id)"] as $r
                 | (["grafana/grafana", "datasource/prometheus"]
                    + [.panels[] | select(.type != "row") | "panel/\(.type)"] | unique) - $r | join(" ")' "$file")
    [[ -z $bad ]] && ok "$name.json: __requires lists grafana, prometheus and every panel type" ||
        not_ok "$name.json: __requires misses: $bad"
    for other in "${!WANT_UID[@]}"; do
        [[ $other == "$name" ]] && continue
        jq -e --arg u "/d/${WANT_UID[$other]}" 'any(.links[]; .type == "link" and .url == $u and .includeVars and .keepTime)' \
            "$file" >/dev/null && ok "$name.json: links to $other (variables and time kept)" ||
            not_ok "$name.json: no link to /d/${WANT_UID[$other]}"
    done
    jq -e '.panels[0].type == "row" and ([.panels[] | select(.type == "row")] | length) >= 2' "$file" >/dev/null &&
        ok "$name.json: row layout" || not_ok "$name.json: the panels are not laid out in rows"
    # Every grid cell holds at most one panel, and no panel passes column 24.
    bad=$(jq -r '[.panels[] | .title as $t | .gridPos as $g
                  | if $g.x + $g.w > 24 then "\($t): past column 24" else
                    (range($g.y; $g.y + $g.h) as $y | range($g.x; $g.x + $g.w) as $x | "\($x),\($y)") end]
                 | group_by(.) | map(select(length > 1 or (.[0] | test(":")))[0]) | join(" ")' "$file")
    [[ -z $bad ]] && ok "$name.json: no panel overlaps another" || not_ok "$name.json: overlapping panels at $bad"

    dups=$(jq -r '[.panels[].id] | group_by(.) | map(select(length > 1)[0]) | map(tostring) | join(" ")' "$file")
    [[ -z $dups ]] && ok "$name.json: panel ids unique" || not_ok "$name.json: duplicate panel ids: $dups"
    noid=$(jq -r '.panels[] | select((.id | type) != "number") | .title' "$file")
    [[ -z $noid ]] || not_ok "$name.json: panels without a numeric id: $noid"

    bad=$(jq -r '.panels[] | select(.type != "row") | select((.fieldConfig.defaults.unit // "") == "") | .title' "$file")
    [[ -z $bad ]] && ok "$name.json: every panel has a unit" || not_ok "$name.json: panels without a unit: $bad"

    bad=$(jq -r '.panels[] | select(.type != "row") | select(.datasource.uid != "${datasource}"
                 or any(.targets[]; .datasource.uid != "${datasource}")) | .title' "$file")
    [[ -z $bad ]] && ok "$name.json: every panel and target uses \${datasource}" ||
        not_ok "$name.json: panels not on \${datasource}: $bad"

    bad=$(jq -r '.panels[] | select(.type != "row") | select((.targets | length) == 0) | .title' "$file")
    [[ -z $bad ]] || not_ok "$name.json: panels without a query: $bad"

    for var in datasource job instance engine workload; do
        jq -e --arg v "$var" 'any(.templating.list[]; .name == $v)' "$file" >/dev/null ||
            not_ok "$name.json: templating variable $var is missing"
    done
    bad=$(jq -r '.templating.list[] | select(.type == "query" and (.multi != true or .includeAll != true)) | .name' "$file")
    [[ -z $bad ]] || not_ok "$name.json: query variables not multi + includeAll: $bad"

    # Every $var / ${var} in a panel or variable query is a templating
    # variable or one of Grafana's built-ins ($__rate_interval and friends).
    defined=$(jq -r '.templating.list[].name' "$file")
    used=$(jq -r '(.panels[].targets[]?.expr), (.templating.list[] | .definition // empty)' "$file" |
        grep -o -E '\$\{?[A-Za-z_][A-Za-z0-9_]*' | sed -E 's/^\$\{?//' | sort -u)
    undefined=""
    for var in $used; do
        [[ $var == __* ]] && continue
        grep -qx -- "$var" <<<"$defined" || undefined+=" $var"
    done
    [[ -z $undefined ]] && ok "$name.json: every variable used is defined" ||
        not_ok "$name.json: undefined variables:$undefined"
done
((E2E_FAILED == 0)) || die "$E2E_FAILED structural check(s) failed"

# ------------------------------------------------------------ the daemon ----
# A mixed scenario: timer (sleep), ready (yield, ring) and io (echo, rpc)
# latency samples, several workloads, two workers. The weights split 20k
# tasks as 5900 + 5900 + 6000 + 200 echo tasks (100 connections) + 2000 rpc
# callers: enough I/O for every connection panel, few descriptors.
start_daemon "$BIN" run \
    --set server.listen=127.0.0.1:0 \
    --set runtime.threads=2 \
    --set "scenario.stages[0].tasks=20k" \
    --set "scenario.stages[0].over=1s" \
    --set 'workloads[0]={name: idle, kind: sleep, weight: 59, period: 100ms}' \
    --set 'workloads[1]={name: spin, kind: yield, weight: 59}' \
    --set 'workloads[2]={name: ring, kind: ring, weight: 60, ring_size: 100}' \
    --set 'workloads[3]={name: conns, kind: echo, weight: 2, period: 100ms, message: 64B}' \
    --set 'workloads[4]={name: calls, kind: rpc, weight: 20, period: 100ms, message: 64B, connections: 2}'
readonly TARGET=127.0.0.1:$PORT
ok "corostorm listening on $TARGET (pid $DAEMON_PID)"

# ------------------------------------------------------------ Prometheus ----
write_prometheus_config "$E2E_TMP/prometheus.yml" "$TARGET"
start_prometheus "$E2E_TMP/prometheus.yml" "$TIMEOUT"

# ---------------------------------------------------------------- queries ----
# query EXPR: an instant query. Sets QUERY_STATUS (success, error or empty
# when no answer came), QUERY_ERROR and SERIES (the number of series).
query() {
    QUERY_STATUS="" QUERY_ERROR="" SERIES=0
    curl -sS --max-time 10 -G --data-urlencode "query=$1" "$PROM_URL/api/v1/query" \
        -o "$E2E_TMP/query.json" 2>"$E2E_TMP/query.err" || { QUERY_ERROR=$(<"$E2E_TMP/query.err"); return 1; }
    QUERY_STATUS=$(jq -r '.status // ""' "$E2E_TMP/query.json" 2>/dev/null || true)
    QUERY_ERROR=$(jq -r '.error // ""' "$E2E_TMP/query.json" 2>/dev/null || true)
    SERIES=$(jq -r '.data.result | length' "$E2E_TMP/query.json" 2>/dev/null || echo 0)
    [[ $QUERY_STATUS == success ]]
}
has_series() { query "$1" && ((SERIES > 0)); }

readonly RATE_INTERVAL=10s
UP='up{job="corostorm"}'
poll_until "$TIMEOUT" has_series "$UP == 1" || die "$UP never became 1 in ${TIMEOUT}s"
ok "$UP == 1"
# Two samples inside the rate window are needed before rate() answers.
RATE="rate(corostorm_task_resumes_total[$RATE_INTERVAL]) > 0"
poll_until "$TIMEOUT" has_series "$RATE" || die "$RATE returned nothing in ${TIMEOUT}s"
poll_until "$TIMEOUT" has_series "deriv(process_resident_memory_bytes[$RATE_INTERVAL])" ||
    die "deriv(process_resident_memory_bytes) returned nothing in ${TIMEOUT}s"
ok "rate() over $RATE_INTERVAL has samples"

# substitute EXPR JOB INSTANCE ENGINE WORKLOAD: EXPR with Grafana's
# variables replaced. Values are regexes, as Grafana formats a multi-value
# variable inside =~ (All = .*, several = (a|b)).
substitute() {
    local expr=$1 v
    local -A value=([job]=$2 [instance]=$3 [engine]=$4 [workload]=$5
                    [__rate_interval]=$RATE_INTERVAL [__interval]=1s [__range]=1m)
    for v in "${!value[@]}"; do
        expr=${expr//"\${$v}"/${value[$v]}}
        expr=${expr//"\$$v"/${value[$v]}}
    done
    printf '%s' "$expr"
}

# label_values(METRIC{SEL}, LABEL) → count by (LABEL) (METRIC{SEL}), which
# answers one series per value the variable would offer.
variable_query() {
    sed -E 's/^label_values\((.*), *([A-Za-z_][A-Za-z0-9_]*)\)$/count by (\2) (\1)/' <<<"$1"
}

# check_query WHAT EXPR [panel]: the query parses and returns at least one
# series; a panel query's series must not carry an instance label (panels
# aggregate across the selected instances). A rate may still lack samples for
# a moment, so an empty answer is retried.
check_query() {
    local what=$1 expr=$2 kind=${3:-}
    if poll_until 10 has_series "$expr"; then
        if [[ $kind == panel ]] && jq -e 'any(.data.result[]; .metric | has("instance"))' "$E2E_TMP/query.json" >/dev/null; then
            not_ok "$what: a series per instance, not aggregated across instances: $expr"
        else
            ok "$what ($SERIES series)"
        fi
    elif [[ $QUERY_STATUS == success ]]; then
        not_ok "$what: no series: $expr"
    else
        not_ok "$what: query failed (${QUERY_STATUS:-no answer}: $QUERY_ERROR): $expr"
    fi
}

# Two passes: every variable on All, then the real values a user would pick
# (a multi-value pick is formatted as a regex alternation).
PASS_NAMES=(all picked)
PASS_JOB=('.*' corostorm)
PASS_INSTANCE=('.*' "$TARGET")
PASS_ENGINE=('.*' lean)
PASS_WORKLOAD=('.*' '(idle|spin|ring|conns|calls)')
QUERIES=0
for name in overview latency memory; do
    file=$DASH/$name.json
    for i in "${!PASS_NAMES[@]}"; do
        vals=("${PASS_JOB[i]}" "${PASS_INSTANCE[i]}" "${PASS_ENGINE[i]}" "${PASS_WORKLOAD[i]}")
        while IFS=$'\t' read -r title expr; do
            check_query "$name/${PASS_NAMES[i]}: $title" "$(substitute "$expr" "${vals[@]}")" panel
            QUERIES=$((QUERIES + 1))
        done < <(jq -r '.panels[] | .title as $t | .targets[]? | ["\($t) [\(.refId)]", .expr] | @tsv' "$file")
        while IFS=$'\t' read -r var def; do
            check_query "$name/${PASS_NAMES[i]}: variable \$$var" \
                "$(variable_query "$(substitute "$def" "${vals[@]}")")"
            QUERIES=$((QUERIES + 1))
        done < <(jq -r '.templating.list[] | select(.type == "query") | [.name, .definition] | @tsv' "$file")
    done
done

# ------------------------------------------------------- what must show ----
# A query that answers with timer and ready series alone still passes the
# loop above; these panels must also show the I/O side of the scenario.

# has_value LABEL VALUE EXPR: EXPR answers a series with LABEL=VALUE whose
# value is a number (NaN: the histogram had no sample in the window).
has_value() {
    query "$3" && jq -e --arg l "$1" --arg v "$2" \
        'any(.data.result[]; .metric[$l] == $v and .value[1] != "NaN")' "$E2E_TMP/query.json" >/dev/null
}

# check_labels DASHBOARD PANEL_ID REF_ID LABEL VALUE...: the panel's query
# (variables on All) has a series with a number for LABEL=VALUE, each VALUE.
check_labels() {
    local name=$1 id=$2 ref=$3 label=$4 expr value missing=""
    shift 4
    expr=$(jq -r --argjson id "$id" --arg ref "$ref" \
        '.panels[] | select(.id == $id) | .targets[] | select(.refId == $ref) | .expr' "$DASH/$name.json")
    QUERIES=$((QUERIES + 1))
    [[ -n $expr ]] || { not_ok "$name panel $id [$ref]: no such query"; return; }
    expr=$(substitute "$expr" '.*' '.*' '.*' '.*')
    for value in "$@"; do
        poll_until 10 has_value "$label" "$value" "$expr" || missing+=" $value"
    done
    if [[ -z $missing ]]; then
        ok "$name panel $id [$ref]: $label $*"
    else
        not_ok "$name panel $id [$ref]: no number for $label =$missing: $expr"
    fi
}
check_labels latency 1 A source timer ready io
check_labels latency 7 A source timer ready io
check_labels latency 8 A workload conns calls
check_labels latency 8 C workload conns calls
check_labels latency 9 A workload conns calls
check_labels overview 3 A method frame heap rss kernel
check_labels overview 11 A workload conns calls
check_labels memory 1 A method rss kernel
check_labels memory 9 C engine lean
check_labels memory 10 A method rss kernel

# ------------------------------------------------------------ shut down ----
stop_and_wait "$PROM_PID" TERM 30
((STOP_RC == 0)) || echo "# note: Prometheus exited with code $STOP_RC"
stop_and_wait "$DAEMON_PID" TERM 30
((STOP_RC == 0)) || die "corostorm exit code $STOP_RC after SIGTERM, want 0"
no_crash_reports "$DAEMON_LOG" || die "the daemon's log has a crash or sanitizer report"

((E2E_FAILED == 0)) || die "$E2E_FAILED of $QUERIES dashboard queries or checks failed"
echo "all $QUERIES dashboard queries answered"
