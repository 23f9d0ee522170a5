#!/usr/bin/env python3
"""Generates the Grafana dashboards in this folder (overview, latency, memory).

The JSON files are committed; edit this script, not the JSON, then run
    python3 dashboards/generate.py           # rewrite the JSON files
    python3 dashboards/generate.py --check   # exit 1 if a JSON file is stale
tests/dashboards/dashboards_test.sh runs the --check form.

Every panel groups by `engine`, so a scraped Go peer (engine="go") shows up in
the same panels as lean and asio. Panel ids are fixed by hand: Grafana links
(viewPanel=ID) and alerts refer to them, so never renumber.
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


def panel(pid, title, unit, targets, x, y, w=12, h=8, kind="timeseries", desc="", extra=None):
    p = {
        "id": pid, "type": kind, "title": title, "description": desc, "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                               "calcs": ["lastNotNull", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(targets)],
    }
    if extra:
        p.update(extra)
    return p


def dashboard(uid, title, panels, desc):
    return {
        "uid": uid, "title": title, "description": desc, "tags": ["corostorm"],
        "schemaVersion": 37, "version": 1, "editable": True, "graphTooltip": 1,
        "time": {"from": "now-15m", "to": "now"}, "refresh": "10s", "timezone": "",
        "annotations": {"list": []}, "links": [
            {"title": "corostorm", "type": "dashboards", "tags": ["corostorm"], "asDropdown": True,
             "includeVars": True, "keepTime": True}],
        "templating": templating(), "panels": panels,
    }


def overview():
    return dashboard("corostorm-overview", "corostorm / overview", [
        panel(1, "Live vs target tasks", "short", [
            (f"sum by (engine, workload) (corostorm_tasks_live{{{JIEW}}})", "live {{engine}}/{{workload}}"),
            (f"sum by (engine, workload) (corostorm_tasks_target{{{JIEW}}})", "target {{engine}}/{{workload}}"),
        ], 0, 0, desc="Coroutines alive now and what the current stage aims for; live below target means spawning lags or was refused."),
        panel(2, "Spawn rate", "ops", [
            (f"sum by (engine, workload) (rate(corostorm_tasks_spawned_total{{{JIEW}}}[{RI}]))", "{{engine}}/{{workload}}"),
        ], 12, 0, desc="Tasks spawned per second."),
        panel(3, "Memory per task by method", "bytes", [
            (per_task(), "{{engine}} {{method}}"),
        ], 0, 8, desc="Bytes per live task over all selected instances of an engine: their summed growth over "
                      "their summed live tasks (all workloads; the workload variable does not apply). " + METHODS),
        panel(4, "Process RSS vs memory limit", "bytes", [
            (f"process_resident_memory_bytes{{{JI}}} {ENGINE_OF}", "rss {{engine}} ({{instance}})"),
            (f"corostorm_memory_limit_bytes{{{JI}}} {ENGINE_OF}", "limit {{engine}} ({{instance}})"),
        ], 12, 8, desc="Resident memory of each scraped process, and the limit its memory guard enforces "
                       "(the cgroup's, the machine's or memory.limit; spawning stops at limit - headroom)."),
        panel(5, "Resumes per second", "ops", [
            (f"sum by (engine, workload) (rate(corostorm_task_resumes_total{{{JIEW}}}[{RI}]))", "{{engine}}/{{workload}}"),
        ], 0, 16, desc="Context switches into tasks per second."),
        panel(6, "Worker busy ratio", "percentunit", [
            (f"rate(corostorm_worker_busy_seconds_total{{{JIE}}}[{RI}])", "{{engine}} worker {{worker}} ({{instance}})"),
        ], 12, 16, desc="CPU time of each pool thread per second of wall time; 1.0 = never idle."),
        panel(7, "Current stage", "none", [
            (f"max by (instance, stage) (corostorm_scenario_stage_info{{{JI}}}) == 1", "{{stage}} ({{instance}})"),
        ], 0, 24, w=12, h=5, kind="stat", desc="The scenario stage each instance runs now.",
            extra={"options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                               "textMode": "name", "colorMode": "none", "graphMode": "none",
                               "justifyMode": "auto", "orientation": "auto"}}),
        panel(8, "Task completions", "ops", [
            (f"sum by (engine, workload, outcome) (rate(corostorm_tasks_completed_total{{{JIEW}}}[{RI}]))",
             "{{engine}}/{{workload}} {{outcome}}"),
        ], 12, 24, h=5, desc="ok, error (an exception escaped), cancelled (retired when the target drops)."),
        panel(9, "Spawns held back by the memory guard", "ops", [
            (f"sum by (instance) (rate(corostorm_spawn_denied_total{{{JI},reason=\"memory\"}}[{RI}]))", "{{instance}}"),
        ], 0, 29, h=6, desc="Worker control turns (one per 5 ms per worker) whose spawns the memory guard held back: "
                            "above 0, the stage target does not fit under the memory limit."),
        panel(10, "Config reloads", "short", [
            (f"sum by (instance, result) (increase(corostorm_config_reloads_total{{{JI}}}[{RI}]))",
             "{{result}} ({{instance}})"),
        ], 12, 29, h=6, desc="SIGHUP reloads: success (live keys applied) or failure (invalid file; the running config stayed)."),
        panel(11, "Connections", "short", [
            (f"sum by (engine, workload) (corostorm_connections_live{{{JIEW}}})", "{{engine}}/{{workload}}"),
        ], 0, 35, desc="Open loopback TCP connections of the echo and rpc workloads. echo: one per unit of two "
                       "tasks (client and server handler), two descriptors each, so half its live tasks; "
                       "rpc: the connections its callers share (the configured count, at least one per worker)."),
        panel(12, "Spawns held back by the descriptor budget", "ops", [
            (f"sum by (job, instance) (rate(corostorm_spawn_denied_total{{{JI},reason=\"fds\"}}[{RI}])) {ENGINE_OF}",
             "{{engine}} ({{instance}})"),
        ], 12, 35, desc="Worker control turns whose echo spawns the file descriptor budget held back (RLIMIT_NOFILE "
                        "minus descriptors open and a reserve): above 0, the echo target needs more descriptors "
                        "than the process may open; raise the limit (ulimit -n, LimitNOFILE) or lower the target."),
        panel(13, "HTTP requests by path and code", "reqps", [
            (f"sum by (path, code) (rate(corostorm_http_requests_total{{{JI}}}[{RI}]))", "{{path}} {{code}}"),
        ], 0, 43, desc="What corostorm's own HTTP server answered: scrapes (/metrics 200), probes, and refusals "
                       "(path other: unknown paths, and requests that could not be read, 400/413/431)."),
        panel(14, "HTTP connections open and evicted", "short", [
            (f"sum by (instance) (corostorm_http_connections_open{{{JI}}})", "open ({{instance}})"),
            (f"sum by (instance) (increase(corostorm_http_connections_evicted_total{{{JI}}}[{RI}]))",
             "evicted ({{instance}})"),
        ], 12, 43, desc="Evicted: closed to make room (the 256-connection limit, out of descriptors, or unread "
                        "responses at their 16 MiB bound). Above 0 while scrapes fail: a client holds the server."),
        panel(15, "Targets up", "short", [
            (f"sum by (job) (up{{{JI}}})", "up ({{job}})"),
            (f"count by (job) (up{{{JI}}})", "scraped ({{job}})"),
        ], 0, 51, desc="Instances Prometheus scraped successfully (up) out of those it scrapes; fewer up than "
                       "scraped is CorostormDown (docs/runbook.md#corostormdown) once it lasts a minute."),
    ], "Tasks, spawn rate, memory per task, resumes, worker load and connections, per engine and workload.")


LAT = f"corostorm_schedule_latency_seconds_bucket{{{JIEW}}}"
RTT = f"corostorm_io_round_trip_seconds_bucket{{{JIEW}}}"


def latency():
    quantiles = [("p50", "0.5"), ("p90", "0.9"), ("p99", "0.99"), ("p99.9", "0.999")]
    panels = []
    for i, (name, q) in enumerate(quantiles):
        panels.append(panel(1 + i, f"Schedule latency {name}", "s", [
            (f"histogram_quantile({q}, sum by (engine, workload, source, le) (rate({LAT}[{RI}])))",
             "{{engine}}/{{workload}} {{source}}"),
        ], 12 * (i % 2), 8 * (i // 2),
            desc=f"{name} per source. timer: lateness (wake-up minus deadline); ready: ready-queue delay "
                 "(resume minus made runnable); io (echo, rpc): resume minus the socket completion that made the "
                 "task runnable, the scheduler's share of an I/O wait, not the network's. "
                 "Empty (NaN) where a workload records no sample of that source."))
    panels.append(panel(5, "Schedule latency heatmap", "s", [], 0, 16, w=24, h=9, kind="heatmap",
        desc="Samples per second in each latency bucket, all selected engines, workloads and sources.",
        extra={
            "targets": [target(f"sum by (le) (rate({LAT}[{RI}]))", "{{le}}", "A", "heatmap")],
            "options": {"calculate": False, "yAxis": {"unit": "s", "axisPlacement": "left"},
                        "cellGap": 1, "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
                        "rowsFrame": {"layout": "auto"}, "tooltip": {"show": True, "yHistogram": True},
                        "legend": {"show": True}},
        }))
    panels.append(panel(6, "Samples per second by source", "ops", [
        (f"sum by (engine, source) (rate(corostorm_schedule_latency_seconds_count{{{JIEW}}}[{RI}]))", "{{engine}} {{source}}"),
    ], 0, 25, desc="How many latency samples each source (timer, ready, io) records (1 in latency.sample_every resumes)."))
    panels.append(panel(7, "Mean latency by source", "s", [
        (f"sum by (engine, source) (rate(corostorm_schedule_latency_seconds_sum{{{JIEW}}}[{RI}]))"
         f" / sum by (engine, source) (rate(corostorm_schedule_latency_seconds_count{{{JIEW}}}[{RI}]))",
         "{{engine}} {{source}}"),
    ], 12, 25, desc="Sum over count of the histogram (timer, ready, io); NaN for a source without samples."))
    panels.append(panel(8, "I/O round trip p50 / p90 / p99", "s", [
        (f"histogram_quantile({q}, sum by (engine, workload, le) (rate({RTT}[{RI}])))",
         f"{name} {{{{engine}}}}/{{{{workload}}}}")
        for name, q in quantiles[:3]
    ], 0, 33, desc="echo and rpc: message sent to reply received, as the calling task sees it. It includes the "
                   "loopback trip, the peer's scheduling (source io above) and the caller's own queueing "
                   "(an rpc call waits behind the other callers of its connection). Empty for other workloads."))
    panels.append(panel(9, "I/O round trips per second", "ops", [
        (f"sum by (engine, workload) (rate(corostorm_io_round_trip_seconds_count{{{JIEW}}}[{RI}]))",
         "{{engine}}/{{workload}}"),
    ], 12, 33, desc="Replies received per second: about tasks / period for rpc and units / period for echo; "
                    "lower means callers fall behind their period."))
    return dashboard("corostorm-latency", "corostorm / latency", panels,
                     "Scheduling latency from the corostorm_schedule_latency_seconds histogram, per engine, workload "
                     "and source, and the I/O round trip of the echo and rpc workloads.")


def memory():
    return dashboard("corostorm-memory", "corostorm / memory", [
        panel(1, "Bytes per task by method", "bytes", [
            (f"corostorm_memory_per_task_bytes{{{JIE}}}", "{{engine}} {{method}} ({{instance}})"),
        ], 0, 0, desc="Each instance's own figure (growth / its live tasks); the fleet figure is in "
                      "\"Kernel vs user space per task\". " + METHODS),
        panel(2, "Frame bytes per workload", "bytes", [
            (f"sum by (engine, workload) (corostorm_coroutine_frame_bytes{{{JIEW}}})", "{{engine}}/{{workload}}"),
        ], 12, 0, desc="Bytes held by live coroutine frames (exact; the lean engine only)."),
        panel(3, "Frame bytes per live task", "bytes", [
            (f"sum by (engine, workload) (corostorm_coroutine_frame_bytes{{{JIEW}}})"
             f" / sum by (engine, workload) (corostorm_tasks_live{{{JIEW}}})", "{{engine}}/{{workload}}"),
        ], 0, 8, desc="Frame bytes divided by live tasks, per workload: how big one task's frame is."),
        panel(4, "Heap in use by tasks (estimate)", "bytes", [
            (f"corostorm_memory_per_task_bytes{{{JIE},method=\"heap\"}}"
             f" * on (job, instance, engine) sum by (job, instance, engine) (corostorm_tasks_live{{{JIE}}})",
             "{{engine}} ({{instance}})"),
        ], 12, 8, desc="heap bytes per task times live tasks."),
        panel(5, "Process RSS and virtual memory", "bytes", [
            (f"process_resident_memory_bytes{{{JI}}} {ENGINE_OF}", "rss {{engine}} ({{instance}})"),
            (f"process_virtual_memory_bytes{{{JI}}} {ENGINE_OF}", "virtual {{engine}} ({{instance}})"),
        ], 0, 16),
        panel(6, "RSS growth", "Bps", [
            (f"deriv(process_resident_memory_bytes{{{JI}}}[{RI}]) {ENGINE_OF}", "{{engine}} ({{instance}})"),
        ], 12, 16, desc="Bytes per second the resident set grows (negative: shrinks)."),
        panel(7, "Spawns denied", "ops", [
            (f"sum by (instance, reason) (rate(corostorm_spawn_denied_total{{{JI}}}[{RI}]))", "{{reason}} ({{instance}})"),
        ], 0, 24, desc="memory: worker turns the memory guard held back (the room below limit - headroom is used up); "
                       "allocation: spawns that found no memory for a frame."),
        panel(8, "Memory limit", "bytes", [
            (f"corostorm_memory_limit_bytes{{{JI}}} {ENGINE_OF}", "{{engine}} ({{instance}})"),
        ], 12, 24, desc="The limit the memory guard enforces: the cgroup's, the machine's or memory.limit."),
        panel(9, "Kernel vs user space per task", "bytes", [
            (per_task(',method="rss"'), "{{engine}} user space (rss)"),
            (per_task(',method="kernel"'), "{{engine}} kernel"),
            # Both methods or nothing: rss alone labelled as a total would hide the kernel's share.
            (f"(sum by (engine) (corostorm_memory_growth_bytes{{{JIE},method=\"rss\"}})"
             f" + on (engine) sum by (engine) (corostorm_memory_growth_bytes{{{JIE},method=\"kernel\"}}))"
             f" / on (engine) sum by (engine) (corostorm_tasks_live{{{JIE}}})", "{{engine}} total"),
        ], 0, 32, desc="What one live task costs the machine, split: resident growth of the process (user space) "
                       "and the kernel's own growth (socket buffers, kernel memory of the memory cgroup, else the "
                       "machine's slab), each summed over the selected instances of an engine and divided by their "
                       "summed live tasks; total = the two added. For echo and rpc the kernel share is the larger "
                       "(a few KB per connection against a few hundred bytes of frame and heap)."),
        panel(10, "Memory growth by method", "bytes", [
            (f"sum by (engine, method) (corostorm_memory_growth_bytes{{{JIE}}})", "{{engine}} {{method}}"),
        ], 12, 32, desc="Bytes grown since before the first spawn, per method, summed over the selected instances "
                        "(frame: bytes of live frames): the numerators of memory per task. It should follow the "
                        "live tasks; growth at a flat task count is a leak or a fragmenting allocator. "
                        "kernel is outside rss, the others are part of it."),
    ], "Memory per task by method (user space and kernel), frame bytes per workload, heap and resident memory growth, "
       "the memory guard.")


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
