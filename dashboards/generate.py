#!/usr/bin/env python3
"""Generates the Grafana dashboards in this folder (overview, latency, memory).

The JSON files are committed; edit this script, not the JSON, then run
    python3 dashboards/generate.py           # rewrite the JSON files
    python3 dashboards/generate.py --check   # exit 1 if a JSON file is stale
tests/dashboards/dashboards_test.sh runs the --check form.

Every panel aggregates across the selected instances (the `instance`
variable, All by default; pick one to drill into it) and groups by `engine`,
so a scraped Go peer (engine="go") shows up in the same panels as lean and
asio. Ratios across instances are ratios of sums (summed growth over summed
tasks, quantiles of summed buckets), never averages of per-instance ratios.
Panel ids are fixed by hand: Grafana links (viewPanel=ID) and the runbook
refer to them, so never renumber; rows take ids from 100 on. Positions are
computed: each row lays its panels out left to right, two 12-wide panels a
line.
"""
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}

# Label matchers. process_* and corostorm_scenario_stage_info carry no engine
# label; corostorm_memory_per_task_bytes and the worker counter no workload.
JI = 'job=~"$job",instance=~"$instance"'
JIE = JI + ',engine=~"$engine"'
JIEW = JIE + ',workload=~"$workload"'
RI = "$__rate_interval"

# process_* has no engine label: borrow it from corostorm_build_info, one
# series per scraped process (the Go peer exports it too, with engine="go").
ENGINE_OF = ('* on (job, instance) group_left (engine) '
             'max by (job, instance, engine) (corostorm_build_info{' + JIE + '})')


def by_engine(expr, extra=""):
    """EXPR (one series per job and instance, maybe more labels) summed over
    the selected instances by engine (and EXTRA labels), the engine borrowed
    from corostorm_build_info."""
    return f"sum by (engine{extra}) ({expr} {ENGINE_OF})"


def per_task(growth_matcher=""):
    """Bytes per live task over every selected instance of an engine.

    The sum of the instances' growth over the sum of their live tasks: an
    average of per-instance ratios would weigh a 1k-task instance like a
    1M-task one. Live tasks of every workload, as the growth has no workload
    label.
    """
    return (f"sum by (engine, method) (corostorm_memory_growth_bytes{{{JIE}{growth_matcher}}})"
            f" / on (engine) group_left sum by (engine) (corostorm_tasks_live{{{JIE}}})")


# How to read the methods, shared by the panels that show them all.
METHODS = ("frame: exact frame bytes (lean only); heap: allocator bytes in use; rss: resident growth "
           "(user space; frame and heap are part of it); kernel: the kernel's own growth outside rss "
           "(socket buffers plus the memory cgroup's kernel memory, else the machine's slab). "
           "A task costs the machine rss + kernel; for echo and rpc the kernel share is the larger one "
           "(a connection's socket buffers), so never read rss alone for I/O workloads.")


def templating():
    def query_var(name, label, query):
        return {
            "name": name, "label": label, "type": "query", "datasource": DS,
            "definition": query, "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "refresh": 2, "sort": 1, "multi": True, "includeAll": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "hide": 0, "regex": "", "skipUrlSync": False, "options": [],
        }
    return {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [],
         "refresh": 1, "regex": "", "skipUrlSync": False},
        query_var("job", "Job", "label_values(corostorm_build_info, job)"),
        query_var("instance", "Instance", 'label_values(corostorm_build_info{job=~"$job"}, instance)'),
        query_var("engine", "Engine", 'label_values(corostorm_build_info{' + JI + '}, engine)'),
        query_var("workload", "Workload", 'label_values(corostorm_tasks_live{' + JIE + '}, workload)'),
    ]}


def target(expr, legend, ref="A", fmt="time_series"):
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref,
            "format": fmt, "range": True, "instant": False}


def panel(pid, title, unit, targets, w=12, h=8, kind="timeseries", desc="", extra=None):
    p = {
        "id": pid, "type": kind, "title": title, "description": desc, "datasource": DS,
        "gridPos": {"x": 0, "y": 0, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                               "calcs": ["lastNotNull", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(targets)],
    }
    if extra:
        p.update(extra)
    return p


# The three dashboards, for the links between them.
UIDS = {"overview": "corostorm-overview", "latency": "corostorm-latency", "memory": "corostorm-memory"}


def layout(rows):
    """[(row title, [panel, ...]), ...] -> the panel list: a row panel, then
    its panels left to right, wrapping at 24 columns."""
    out, y = [], 0
    for i, (title, panels) in enumerate(rows):
        out.append({"id": 100 + i, "type": "row", "title": title, "collapsed": False, "panels": [],
                    "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}})
        y += 1
        x, line_h = 0, 0
        for p in panels:
            g = p["gridPos"]
            if x + g["w"] > 24:
                x, y, line_h = 0, y + line_h, 0
            g["x"], g["y"] = x, y
            out.append(p)
            x += g["w"]
            line_h = max(line_h, g["h"])
        y += line_h
    return out


def requires(panels):
    """__requires: what an import needs, the panel plugins those in use."""
    names = {"timeseries": "Time series", "stat": "Stat", "heatmap": "Heatmap"}
    kinds = sorted({p["type"] for p in panels if p["type"] != "row"})
    return ([{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "9.5.0"},
             {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}]
            + [{"type": "panel", "id": k, "name": names[k], "version": ""} for k in kinds])


def dashboard(uid, title, rows, desc):
    panels = layout(rows)
    links = [{"title": "corostorm", "type": "dashboards", "tags": ["corostorm"], "asDropdown": True,
              "includeVars": True, "keepTime": True, "icon": "external link", "targetBlank": False,
              "tooltip": "", "url": ""}]
    for name, other in UIDS.items():
        if other != uid:
            links.append({"title": f"corostorm / {name}", "type": "link", "url": f"/d/{other}",
                          "includeVars": True, "keepTime": True, "asDropdown": False, "icon": "dashboard",
                          "targetBlank": False, "tags": [], "tooltip": f"the {name} dashboard, same variables"})
    return {
        # Import by file (Dashboards > Import): Grafana asks for DS_PROMETHEUS.
        # The panels query through the ${datasource} variable, which starts on
        # the default Prometheus data source, so the same file also works
        # provisioned (compose, the kube-prometheus-stack sidecar), where
        # __inputs is not read.
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "__requires": requires(panels),
        "uid": uid, "title": title, "description": desc, "tags": ["corostorm"],
        "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1,
        "time": {"from": "now-15m", "to": "now"}, "refresh": "10s", "timezone": "",
        "annotations": {"list": []}, "links": links,
        "templating": templating(), "panels": panels,
    }


def overview():
    p = {}
    p[15] = panel(15, "Targets up", "short", [
        (f"sum by (job) (up{{{JI}}})", "up ({{job}})"),
        (f"count by (job) (up{{{JI}}})", "scraped ({{job}})"),
    ], h=6, desc="Instances Prometheus scraped successfully (up) out of those it scrapes; fewer up than "
                 "scraped is CorostormDown (docs/runbook.md#corostormdown) once it lasts a minute.")
    p[7] = panel(7, "Current stage", "none", [
        (f"count by (stage) (corostorm_scenario_stage_info{{{JI}}} == 1)", "{{stage}}"),
    ], h=6, kind="stat", desc="How many of the selected instances run each scenario stage now.",
        extra={"options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                           "textMode": "value_and_name", "colorMode": "none", "graphMode": "none",
                           "justifyMode": "auto", "orientation": "auto"}})
    p[1] = panel(1, "Live vs target tasks", "short", [
        (f"sum by (engine, workload) (corostorm_tasks_live{{{JIEW}}})", "live {{engine}}/{{workload}}"),
        (f"sum by (engine, workload) (corostorm_tasks_target{{{JIEW}}})", "target {{engine}}/{{workload}}"),
    ], desc="Coroutines alive now and what the current stage aims for, summed over the selected instances; "
            "live below target means spawning lags or was refused (CorostormTargetNotReached: pick the "
            "instance to see it alone).")
    p[2] = panel(2, "Spawn rate", "ops", [
        (f"sum by (engine, workload) (rate(corostorm_tasks_spawned_total{{{JIEW}}}[{RI}]))", "{{engine}}/{{workload}}"),
    ], desc="Tasks spawned per second.")
    p[5] = panel(5, "Resumes per second", "ops", [
        (f"sum by (engine, workload) (rate(corostorm_task_resumes_total{{{JIEW}}}[{RI}]))", "{{engine}}/{{workload}}"),
    ], desc="Context switches into tasks per second.")
    p[8] = panel(8, "Task completions", "ops", [
        (f"sum by (engine, workload, outcome) (rate(corostorm_tasks_completed_total{{{JIEW}}}[{RI}]))",
         "{{engine}}/{{workload}} {{outcome}}"),
    ], desc="ok, error (an exception escaped), cancelled (retired when the target drops).")
    p[3] = panel(3, "Memory per task by method", "bytes", [
        (per_task(), "{{engine}} {{method}}"),
    ], desc="Bytes per live task over all selected instances of an engine: their summed growth over "
            "their summed live tasks (all workloads; the workload variable does not apply). " + METHODS)
    p[4] = panel(4, "Process RSS vs memory limit", "bytes", [
        (by_engine(f"process_resident_memory_bytes{{{JI}}}"), "rss {{engine}}"),
        (by_engine(f"corostorm_memory_limit_bytes{{{JI}}}"), "limit {{engine}}"),
    ], desc="Resident memory of the selected processes, summed, and the sum of the limits their memory "
            "guards enforce (the cgroup's, the machine's or memory.limit; spawning stops at limit - headroom). "
            "Pick one instance to see how close it is to its own limit.")
    p[9] = panel(9, "Spawns held back by the memory guard", "ops", [
        (by_engine(f"sum by (job, instance) (rate(corostorm_spawn_denied_total{{{JI},reason=\"memory\"}}[{RI}]))"),
         "{{engine}}"),
    ], desc="Worker control turns (one per 5 ms per worker) whose spawns the memory guard held back: "
            "above 0, the stage target does not fit under the memory limit (CorostormSpawnDenied, reason memory).")
    p[6] = panel(6, "Worker busy ratio", "percentunit", [
        (f"sum by (engine) (rate(corostorm_worker_busy_seconds_total{{{JIE}}}[{RI}]))"
         f" / count by (engine) (corostorm_worker_busy_seconds_total{{{JIE}}})", "mean {{engine}}"),
        (f"max by (engine) (rate(corostorm_worker_busy_seconds_total{{{JIE}}}[{RI}]))", "busiest worker {{engine}}"),
    ], desc="CPU time of the pool threads per second of wall time, over every worker of the selected "
            "instances (summed busy time over the number of workers), and the busiest single worker; "
            "1.0 = never idle.")
    p[11] = panel(11, "Connections", "short", [
        (f"sum by (engine, workload) (corostorm_connections_live{{{JIEW}}})", "{{engine}}/{{workload}}"),
    ], desc="Open loopback TCP connections of the echo and rpc workloads. echo: one per unit of two "
            "tasks (client and server handler), two descriptors each, so half its live tasks; "
            "rpc: the connections its callers share (the configured count, at least one per worker).")
    p[12] = panel(12, "Spawns held back by the descriptor budget", "ops", [
        (by_engine(f"sum by (job, instance) (rate(corostorm_spawn_denied_total{{{JI},reason=\"fds\"}}[{RI}]))"),
         "{{engine}}"),
    ], desc="Worker control turns whose echo spawns the file descriptor budget held back (RLIMIT_NOFILE "
            "minus descriptors open and a reserve): above 0, the echo target needs more descriptors "
            "than the process may open; raise the limit (ulimit -n, LimitNOFILE) or lower the target.")
    p[10] = panel(10, "Config reloads", "short", [
        (by_engine(f"increase(corostorm_config_reloads_total{{{JI}}}[{RI}])", ", result"),
         "{{engine}} {{result}}"),
    ], desc="SIGHUP reloads: success (live keys applied) or failure (invalid file; the running config stayed).")
    p[13] = panel(13, "HTTP requests by path and code", "reqps", [
        (f"sum by (path, code) (rate(corostorm_http_requests_total{{{JI}}}[{RI}]))", "{{path}} {{code}}"),
    ], desc="What corostorm's own HTTP server answered: scrapes (/metrics 200), probes, and refusals "
            "(path other: unknown paths, and requests that could not be read, 400/413/431).")
    p[14] = panel(14, "HTTP connections open and evicted", "short", [
        (by_engine(f"corostorm_http_connections_open{{{JI}}}"), "open {{engine}}"),
        (by_engine(f"increase(corostorm_http_connections_evicted_total{{{JI}}}[{RI}])"), "evicted {{engine}}"),
    ], desc="Evicted: closed to make room (the 256-connection limit, out of descriptors, or unread "
            "responses at their 16 MiB bound). Above 0 while scrapes fail: a client holds the server.")
    return dashboard(UIDS["overview"], "corostorm / overview", [
        ("Fleet", [p[15], p[7]]),
        ("Tasks", [p[1], p[2], p[5], p[8]]),
        ("Memory", [p[3], p[4], p[9]]),
        ("Workers and connections", [p[6], p[11], p[12]]),
        ("Daemon", [p[10], p[13], p[14]]),
    ], "Tasks, spawn rate, memory per task, resumes, worker load and connections, per engine and workload, "
       "over the selected instances.")


LAT = f"corostorm_schedule_latency_seconds_bucket{{{JIEW}}}"
RTT = f"corostorm_io_round_trip_seconds_bucket{{{JIEW}}}"


def latency():
    quantiles = [("p50", "0.5"), ("p90", "0.9"), ("p99", "0.99"), ("p99.9", "0.999")]
    p = {}
    for i, (name, q) in enumerate(quantiles):
        p[1 + i] = panel(1 + i, f"Schedule latency {name}", "s", [
            (f"histogram_quantile({q}, sum by (engine, workload, source, le) (rate({LAT}[{RI}])))",
             "{{engine}}/{{workload}} {{source}}"),
        ], desc=f"{name} per source, from the buckets of the selected instances summed (a fleet quantile, "
                "not an average of the instances' quantiles; pick one instance to see its own). timer: "
                "lateness (wake-up minus deadline); ready: ready-queue delay "
                "(resume minus made runnable); io (echo, rpc): resume minus the socket completion that made the "
                "task runnable, the scheduler's share of an I/O wait, not the network's. "
                "Empty (NaN) where a workload records no sample of that source.")
    p[5] = panel(5, "Schedule latency heatmap", "s", [], w=24, h=9, kind="heatmap",
        desc="Samples per second in each latency bucket, all selected instances, engines, workloads and sources.",
        extra={
            "targets": [target(f"sum by (le) (rate({LAT}[{RI}]))", "{{le}}", "A", "heatmap")],
            "options": {"calculate": False, "yAxis": {"unit": "s", "axisPlacement": "left"},
                        "cellGap": 1, "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
                        "rowsFrame": {"layout": "auto"}, "tooltip": {"show": True, "yHistogram": True},
                        "legend": {"show": True}},
        })
    p[6] = panel(6, "Samples per second by source", "ops", [
        (f"sum by (engine, source) (rate(corostorm_schedule_latency_seconds_count{{{JIEW}}}[{RI}]))", "{{engine}} {{source}}"),
    ], desc="How many latency samples each source (timer, ready, io) records (1 in latency.sample_every resumes).")
    p[7] = panel(7, "Mean latency by source", "s", [
        (f"sum by (engine, source) (rate(corostorm_schedule_latency_seconds_sum{{{JIEW}}}[{RI}]))"
         f" / sum by (engine, source) (rate(corostorm_schedule_latency_seconds_count{{{JIEW}}}[{RI}]))",
         "{{engine}} {{source}}"),
    ], desc="Summed sum over summed count of the histogram (timer, ready, io); NaN for a source without samples.")
    p[8] = panel(8, "I/O round trip p50 / p90 / p99", "s", [
        (f"histogram_quantile({q}, sum by (engine, workload, le) (rate({RTT}[{RI}])))",
         f"{name} {{{{engine}}}}/{{{{workload}}}}")
        for name, q in quantiles[:3]
    ], desc="echo and rpc: message sent to reply received, as the calling task sees it. It includes the "
            "loopback trip, the peer's scheduling (source io above) and the caller's own queueing "
            "(an rpc call waits behind the other callers of its connection). Empty for other workloads.")
    p[9] = panel(9, "I/O round trips per second", "ops", [
        (f"sum by (engine, workload) (rate(corostorm_io_round_trip_seconds_count{{{JIEW}}}[{RI}]))",
         "{{engine}}/{{workload}}"),
    ], desc="Replies received per second: about tasks / period for rpc and units / period for echo; "
            "lower means callers fall behind their period.")
    return dashboard(UIDS["latency"], "corostorm / latency", [
        ("Schedule latency quantiles", [p[1], p[2], p[3], p[4]]),
        ("Distribution", [p[5], p[6], p[7]]),
        ("I/O round trip", [p[8], p[9]]),
    ], "Scheduling latency from the corostorm_schedule_latency_seconds histogram, per engine, workload "
       "and source, and the I/O round trip of the echo and rpc workloads, over the selected instances.")


def memory():
    p = {}
    p[1] = panel(1, "Bytes per task by method", "bytes", [
        (per_task(), "{{engine}} {{method}}"),
    ], desc="Summed growth over summed live tasks of the selected instances, per method (pick one instance "
            "to see its own figure, corostorm_memory_per_task_bytes). " + METHODS)
    p[9] = panel(9, "Kernel vs user space per task", "bytes", [
        (per_task(',method="rss"'), "{{engine}} user space (rss)"),
        (per_task(',method="kernel"'), "{{engine}} kernel"),
        # Both methods or nothing: rss alone labelled as a total would hide the kernel's share.
        (f"(sum by (engine) (corostorm_memory_growth_bytes{{{JIE},method=\"rss\"}})"
         f" + on (engine) sum by (engine) (corostorm_memory_growth_bytes{{{JIE},method=\"kernel\"}}))"
         f" / on (engine) sum by (engine) (corostorm_tasks_live{{{JIE}}})", "{{engine}} total"),
    ], desc="What one live task costs the machine, split: resident growth of the process (user space) "
            "and the kernel's own growth (socket buffers, kernel memory of the memory cgroup, else the "
            "machine's slab), each summed over the selected instances of an engine and divided by their "
            "summed live tasks; total = the two added. For echo and rpc the kernel share is the larger "
            "(a few KB per connection against a few hundred bytes of frame and heap).")
    p[3] = panel(3, "Frame bytes per live task", "bytes", [
        (f"sum by (engine, workload) (corostorm_coroutine_frame_bytes{{{JIEW}}})"
         f" / sum by (engine, workload) (corostorm_tasks_live{{{JIEW}}})", "{{engine}}/{{workload}}"),
    ], desc="Summed frame bytes over summed live tasks, per workload: how big one task's frame is.")
    p[2] = panel(2, "Frame bytes per workload", "bytes", [
        (f"sum by (engine, workload) (corostorm_coroutine_frame_bytes{{{JIEW}}})", "{{engine}}/{{workload}}"),
    ], desc="Bytes held by live coroutine frames (exact; the lean engine only).")
    p[5] = panel(5, "Process RSS and virtual memory", "bytes", [
        (by_engine(f"process_resident_memory_bytes{{{JI}}}"), "rss {{engine}}"),
        (by_engine(f"process_virtual_memory_bytes{{{JI}}}"), "virtual {{engine}}"),
    ], desc="Resident and virtual memory of the selected processes, summed.")
    p[6] = panel(6, "RSS growth", "Bps", [
        (by_engine(f"deriv(process_resident_memory_bytes{{{JI}}}[{RI}])"), "{{engine}}"),
    ], desc="Bytes per second the resident sets of the selected processes grow, summed (negative: shrink).")
    p[8] = panel(8, "Memory limit", "bytes", [
        (by_engine(f"corostorm_memory_limit_bytes{{{JI}}}"), "{{engine}}"),
    ], desc="The limits the memory guards enforce (the cgroup's, the machine's or memory.limit), summed over "
            "the selected instances.")
    p[4] = panel(4, "Heap in use by tasks (estimate)", "bytes", [
        (f"sum by (engine) (corostorm_memory_growth_bytes{{{JIE},method=\"heap\"}})", "{{engine}}"),
    ], desc="Growth of malloc's bytes in use since before the first spawn, summed over the selected "
            "instances: heap bytes per task times live tasks.")
    p[10] = panel(10, "Memory growth by method", "bytes", [
        (f"sum by (engine, method) (corostorm_memory_growth_bytes{{{JIE}}})", "{{engine}} {{method}}"),
    ], desc="Bytes grown since before the first spawn, per method, summed over the selected instances "
            "(frame: bytes of live frames): the numerators of memory per task. It should follow the "
            "live tasks; growth at a flat task count is a leak or a fragmenting allocator. "
            "kernel is outside rss, the others are part of it.")
    p[7] = panel(7, "Spawns denied", "ops", [
        (by_engine(f"sum by (job, instance, reason) (rate(corostorm_spawn_denied_total{{{JI}}}[{RI}]))", ", reason"),
         "{{engine}} {{reason}}"),
    ], desc="memory: worker turns the memory guard held back (the room below limit - headroom is used up); "
            "allocation: spawns that found no memory for a frame; fds: echo spawns the descriptor budget "
            "held back. CorostormSpawnDenied fires per instance and reason.")
    return dashboard(UIDS["memory"], "corostorm / memory", [
        ("Per task", [p[1], p[9], p[3], p[2]]),
        ("Process", [p[5], p[6], p[8], p[4]]),
        ("Growth and the memory guard", [p[10], p[7]]),
    ], "Memory per task by method (user space and kernel), frame bytes per workload, heap and resident memory growth, "
       "the memory guard, over the selected instances.")


DASHBOARDS = {"overview.json": overview, "latency.json": latency, "memory.json": memory}


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, build in DASHBOARDS.items():
        text = json.dumps(build(), indent=2) + "\n"
        path = HERE / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("stale, run python3 dashboards/generate.py: " + " ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
