#!/usr/bin/env bash
# A fleet of three daemons (2k, 5k and 10k sleepers, 1 s period) scraped by
# one real Prometheus that loads deploy/prometheus/rules. Checks the numbers,
# not just that series exist, each at one evaluation timestamp T of the rule:
# - engine_method:corostorm_memory_per_task_bytes:ratio_sum, and the
#   dashboards' memory per task panels, equal sum(growth) / sum(live tasks)
#   computed here from the per-instance series at T, for every method; and for
#   at least one method that figure differs from the mean of the instances'
#   own ratios (else the check could not tell the two apart);
# - engine_workload_source:corostorm_schedule_latency_seconds:p99_rate1m (and
#   p50), and the dashboard's p99 panel, equal the quantile computed here
#   (Prometheus's interpolation) from the instances' bucket rates summed here;
# - instance_engine_workload_source:...:p99_rate1m equals, for each instance,
#   the quantile of that instance's own buckets, and keeps job and instance.
#
# usage: fleet_test.sh BIN SRC_DIR
# Exits 77 (skipped) when the prometheus binary is not installed.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

binary_arg "BIN SRC_DIR" "$@"
(($# >= 2)) || { echo "usage: $0 BIN SRC_DIR" >&2; exit 2; }
SRC_DIR=$2
RULES=$SRC_DIR/deploy/prometheus/rules
[[ -f $RULES/recording.yml ]] || { echo "no $RULES/recording.yml" >&2; exit 2; }
command -v prometheus >/dev/null 2>&1 || skip_test "prometheus is not installed (looked in PATH=$PATH)"
require_tools curl jq python3

e2e_init

readonly TIMEOUT=40
readonly TASKS=(2000 5000 10000)

# ------------------------------------------------------------ the fleet ----
TARGETS=()
PIDS=()
for tasks in "${TASKS[@]}"; do
    start_daemon "$BIN" run \
        --set server.listen=127.0.0.1:0 \
        --set runtime.threads=1 \
        --set "scenario.stages[0].tasks=$tasks" \
        --set "scenario.stages[0].over=1s" \
        --set "workloads[0].period=1s"
    TARGETS+=("127.0.0.1:$PORT")
    PIDS+=("$DAEMON_PID")
    ok "corostorm with $tasks sleepers on 127.0.0.1:$PORT (pid $DAEMON_PID)"
done

# ----------------------------------------------------------- Prometheus ----
# The repo's rule files by absolute path; one job, three targets, scraped and
# evaluated every second.
TARGET_LIST=""
for t in "${TARGETS[@]}"; do TARGET_LIST+="${TARGET_LIST:+, }'$t'"; done
RULES_ABS=$(cd "$RULES" && pwd)
{
    printf 'global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n'
    printf 'rule_files:\n'
    for f in "$RULES_ABS"/*.yml; do printf "  - '%s'\n" "$f"; done
    printf 'scrape_configs:\n  - job_name: corostorm\n    static_configs:\n      - targets: [%s]\n' "$TARGET_LIST"
} >"$E2E_TMP/prometheus.yml"
promtool check config "$E2E_TMP/prometheus.yml" >/dev/null 2>&1 ||
    die "generated config invalid: $(cat "$E2E_TMP/prometheus.yml")"
start_prometheus "$E2E_TMP/prometheus.yml" "$TIMEOUT"

# ------------------------------------------------------------- numbers ----
# The checks poll and query in Python (stdlib only, 127.0.0.1 only), one
# "ok"/"FAIL" line each; the dashboards' queries are read from the JSON.
PY_RC=0
python3 - "$PROM_URL" "$SRC_DIR" "${TASKS[@]}" <<'PY' || PY_RC=$?
import json
import math
import sys
import time
import urllib.parse
import urllib.request

prom, src = sys.argv[1], sys.argv[2]
want_tasks = sum(int(t) for t in sys.argv[3:])
failed = 0
TIMEOUT = 40


def check(cond, what):
    global failed
    print(("ok   - " if cond else "FAIL - ") + what, flush=True)
    if not cond:
        failed += 1


def query(expr, at=None):
    args = {"query": expr}
    if at is not None:
        args["time"] = repr(at)
    url = prom + "/api/v1/query?" + urllib.parse.urlencode(args)
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body.get('error')}")
    return [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]


def poll(what, cond):
    deadline = time.monotonic() + TIMEOUT
    pause = 0.05
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            check(False, f"{what}: not within {TIMEOUT}s")
            sys.exit(1)
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def close(a, b, rel=1e-9):
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def quantile(q, buckets):
    """histogram_quantile as Prometheus 2.42 computes it, on [(le, count)]."""
    buckets = sorted(buckets)
    if len(buckets) < 2 or buckets[-1][0] != math.inf:
        return math.nan
    counts, m = [], 0.0
    for _, c in buckets:  # ensureMonotonic
        m = max(m, c)
        counts.append(m)
    observations = counts[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(buckets) - 1) if counts[i] >= rank), len(buckets) - 1)
    if b == len(buckets) - 1:
        return buckets[-2][0]
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, end, count = 0.0, buckets[b][0], counts[b]
    if b > 0:
        start = buckets[b - 1][0]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * (rank / count)


def le(metric):
    return math.inf if metric["le"] == "+Inf" else float(metric["le"])


def substitute(expr, rate_interval):
    for var, value in (("job", ".*"), ("instance", ".*"), ("engine", ".*"), ("workload", ".*")):
        expr = expr.replace("${" + var + "}", value).replace("$" + var, value)
    return expr.replace("$__rate_interval", rate_interval)


def panel_expr(dash, pid, ref):
    d = json.load(open(f"{src}/dashboards/{dash}.json"))
    return next(t["expr"] for p in d["panels"] if p["id"] == pid for t in p.get("targets", [])
                if t["refId"] == ref)


# -------------------------------------------------------- fleet is up ----
poll("3 targets up", lambda: len(query('up{job="corostorm"} == 1')) == 3)
check(True, "3 targets up")
poll(f"{want_tasks} live tasks", lambda: query("sum(corostorm_tasks_live)") and
     query("sum(corostorm_tasks_live)")[0][1] == want_tasks)
check(True, f"{want_tasks} live tasks over the fleet")

# ------------------------------------------------------ memory per task ----
REC = "engine_method:corostorm_memory_per_task_bytes:ratio_sum"
PANELS = [("overview", 3, "A"), ("memory", 1, "A")]
poll(f"{REC} for 4 methods", lambda: len(query(REC)) == 4)


def memory_at_once():
    """One try at one evaluation timestamp: (ok, report lines)."""
    t = query(f"timestamp({REC})")[0][1]
    rec = {m["method"]: v for m, v in query(REC, t)}
    growth = query("corostorm_memory_growth_bytes", t)
    tasks = query("corostorm_tasks_live", t)
    per_instance_tasks = {}
    for m, v in tasks:
        per_instance_tasks[m["instance"]] = per_instance_tasks.get(m["instance"], 0) + v
    total_tasks = sum(per_instance_tasks.values())
    lines, good = [], True
    fleet, mean_of_ratios = {}, {}
    for method in sorted(rec):
        g = [(m["instance"], v) for m, v in growth if m["method"] == method]
        fleet[method] = sum(v for _, v in g) / total_tasks
        mean_of_ratios[method] = sum(v / per_instance_tasks[i] for i, v in g) / len(g)
        same = close(rec[method], fleet[method])
        good &= same and len(g) == 3
        lines.append((same and len(g) == 3,
                      f"{REC}{{method={method}}} = {rec[method]:.6f} at {t}: sum of {len(g)} instances' growth / "
                      f"{total_tasks:.0f} tasks = {fleet[method]:.6f} (mean of the instances' ratios: "
                      f"{mean_of_ratios[method]:.6f})"))
    for dash, pid, ref in PANELS:
        expr = substitute(panel_expr(dash, pid, ref), "1m")
        got = {m["method"]: v for m, v in query(expr, t)}
        same = set(got) == set(fleet) and all(close(got[k], fleet[k]) for k in fleet)
        good &= same
        lines.append((same, f"dashboard {dash} panel {pid} [{ref}] at {t} equals sum(growth) / sum(tasks) "
                            f"for {sorted(got)}"))
    differs = [k for k in fleet if abs(mean_of_ratios[k] - fleet[k]) > 0.01 * abs(fleet[k])]
    lines.append((len(differs) > 0, "sum / sum differs from the mean of per-instance ratios by > 1% for "
                                    f"{differs} (so the check tells them apart)"))
    good &= len(differs) > 0
    return good, lines


# A scrape that lands between a rule's evaluation and the queries at its
# timestamp can change a raw series by then: take the first of a few
# evaluations where every figure agrees, and show the last try otherwise.
for attempt in range(1, 6):
    good, lines = memory_at_once()
    if good:
        break
    print(f"# memory per task: try {attempt} disagreed, taking the next evaluation", flush=True)
    time.sleep(1)
for cond, what in lines:
    check(cond, what)

# ------------------------------------------------------------- latency ----
SEL = '{workload="idle",source="timer"}'
FLEET = {0.99: "engine_workload_source:corostorm_schedule_latency_seconds:p99_rate1m",
         0.5: "engine_workload_source:corostorm_schedule_latency_seconds:p50_rate1m"}
INST = "instance_engine_workload_source:corostorm_schedule_latency_seconds:p99_rate1m"


def finite(expr):
    r = query(expr)
    return len(r) > 0 and all(math.isfinite(v) for _, v in r)


poll(f"{FLEET[0.99]}{SEL} a number", lambda: finite(FLEET[0.99] + SEL))
poll(f"{INST}{SEL} a number for 3 instances", lambda: len(query(INST + SEL)) == 3 and finite(INST + SEL))


def latency_at_once():
    t = query(f"timestamp({FLEET[0.99]}{SEL})")[0][1]
    rates = query('rate(corostorm_schedule_latency_seconds_bucket{workload="idle",source="timer"}[1m])', t)
    summed, per_instance = {}, {}
    for m, v in rates:
        summed[le(m)] = summed.get(le(m), 0.0) + v
        per_instance.setdefault(m["instance"], []).append((le(m), v))
    lines, good = [], True
    for q, rec in FLEET.items():
        got = query(rec + SEL, t)
        want = quantile(q, list(summed.items()))
        same = len(got) == 1 and close(got[0][1], want)
        good &= same
        lines.append((same, f"{rec}{SEL} = {got[0][1] if got else None} at {t}: the {q} quantile of the "
                            f"3 instances' summed buckets = {want}"))
    # The per-instance rule is in another group, evaluated at its own time.
    t2 = query(f"max(timestamp({INST}{SEL}))")[0][1]
    per_instance = {}
    for m, v in query('rate(corostorm_schedule_latency_seconds_bucket{workload="idle",source="timer"}[1m])', t2):
        per_instance.setdefault(m["instance"], []).append((le(m), v))
    inst = {m["instance"]: (m, v) for m, v in query(INST + SEL, t2)}
    check_count = len(inst) == 3 and len(per_instance) == 3
    good &= check_count
    lines.append((check_count, f"{INST}{SEL}: 3 instances at {t2}"))
    for i, buckets in sorted(per_instance.items()):
        want = quantile(0.99, buckets)
        m, v = inst.get(i, ({}, math.nan))
        same = close(v, want) and m.get("job") == "corostorm"
        good &= same
        lines.append((same, f"{INST}{{instance={i}}} = {v} at {t2}: that instance's own p99 = {want} (job kept)"))
    expr = substitute(panel_expr("latency", 3, "A"), "1m")
    got = [v for m, v in query(expr, t) if m.get("workload") == "idle" and m.get("source") == "timer"]
    want = quantile(0.99, list(summed.items()))
    same = len(got) == 1 and close(got[0], want)
    good &= same
    lines.append((same, f"dashboard latency panel 3 [A] ($__rate_interval = 1m) at {t}: {got} = {want}"))
    mean = sum(quantile(0.99, b) for b in per_instance.values()) / len(per_instance)
    lines.append((True, f"(the mean of the instances' p99s would be {mean})"))
    return good, lines


for attempt in range(1, 6):
    good, lines = latency_at_once()
    if good:
        break
    print(f"# latency: try {attempt} disagreed, taking the next evaluation", flush=True)
    time.sleep(1)
for cond, what in lines:
    check(cond, what)

sys.exit(1 if failed else 0)
PY
((PY_RC == 0)) || not_ok "fleet numbers (python exit $PY_RC)"

# ------------------------------------------------------------ shut down ----
stop_and_wait "$PROM_PID" TERM 30
((STOP_RC == 0)) || echo "# note: Prometheus exited with code $STOP_RC"
for pid in "${PIDS[@]}"; do
    stop_and_wait "$pid" TERM 30
    ((STOP_RC == 0)) || not_ok "corostorm pid $pid: exit code $STOP_RC after SIGTERM, want 0"
done

((E2E_FAILED == 0)) || die "$E2E_FAILED check(s) failed"
echo "all fleet checks passed"
