// The /metrics exposition: corostorm's metric names, types and label sets
// (src/metrics/exporter.cpp, process_collector.cpp) in the Prometheus text
// format 0.0.4, with engine="go". Read at scrape time from the recorder's
// shards, so a scrape costs O(shards x buckets), never O(goroutines).
// Not exported, because Go cannot give them honestly:
//
//	corostorm_coroutine_frame_bytes, memory_per_task_bytes{method="frame"}:
//	  a goroutine's frames live on its stack, whose bytes are in method="heap";
//	corostorm_worker_busy_seconds_total: Go does not tell the CPU time of a P
//	  (its threads change), read process_cpu_seconds_total instead;
//	corostorm_spawn_denied_total: a goroutine that cannot get memory aborts
//	  the process, it is never refused.
package main

import (
	"bufio"
	"io"
	"runtime"
	"strconv"
	"strings"
)

type label struct{ name, value string }

type exposition struct{ w *bufio.Writer }

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func (x exposition) family(name, typ, help string) {
	x.w.WriteString("# HELP " + name + " " + helpEscaper.Replace(help) + "\n")
	x.w.WriteString("# TYPE " + name + " " + typ + "\n")
}

func (x exposition) sample(name string, labels []label, value string) {
	x.w.WriteString(name)
	if len(labels) > 0 {
		x.w.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				x.w.WriteByte(',')
			}
			x.w.WriteString(l.name + `="` + labelEscaper.Replace(l.value) + `"`)
		}
		x.w.WriteByte('}')
	}
	x.w.WriteString(" " + value + "\n")
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
func formatUint(v uint64) string   { return strconv.FormatUint(v, 10) }

func with(labels []label, more ...label) []label {
	out := make([]label, 0, len(labels)+len(more))
	return append(append(out, labels...), more...)
}

// histogram writes cumulative buckets with corostorm's bounds, then _sum and _count.
func (x exposition) histogram(name string, labels []label, s *latencySnapshot) {
	var cumulative uint64
	for i, n := range s.buckets {
		cumulative += n
		le := "+Inf"
		if i < finiteBuckets {
			le = formatFloat(upperBoundSeconds(i))
		}
		x.sample(name+"_bucket", with(labels, label{"le", le}), formatUint(cumulative))
	}
	x.sample(name+"_sum", labels, formatFloat(float64(s.sumNs)/1e9))
	x.sample(name+"_count", labels, formatUint(cumulative))
}

// metricsSource is what a scrape reads.
type metricsSource struct {
	rec       *recorder
	kind      string
	network   bool // echo, rpc: connections, round trips and source="io"
	base      baselines
	targetNow func() uint64
}

func writeMetrics(out io.Writer, src *metricsSource) error {
	w := bufio.NewWriter(out)
	x := exposition{w}
	t := src.rec.totals()
	engine := label{"engine", "go"}
	ew := []label{engine, {"workload", src.kind}}

	x.family("corostorm_build_info", "gauge",
		"Always 1; the labels say which corostorm version this Go peer mirrors, the engine (go), the Go "+
			"release that built it (compiler), boost (none: no Boost in Go) and the git revision it was built from.")
	x.sample("corostorm_build_info", []label{{"version", version}, engine,
		{"compiler", runtime.Version()}, {"boost", "none"}, {"revision", revision}}, "1")

	x.family("corostorm_tasks_live", "gauge",
		"Goroutines of the workload alive now (spawned and not yet finished), ring members and tree nodes included.")
	x.sample("corostorm_tasks_live", ew, formatUint(t.live()))
	x.family("corostorm_tasks_target", "gauge",
		"Tasks the peer aims for at this instant (follows --ramp, 0 once draining); compare with corostorm_tasks_live.")
	x.sample("corostorm_tasks_target", ew, formatUint(src.targetNow()))
	x.family("corostorm_tasks_spawned_total", "counter",
		"Goroutines started since the process started; rate() is the spawn rate.")
	x.sample("corostorm_tasks_spawned_total", ew, formatUint(t.spawned))
	x.family("corostorm_tasks_completed_total", "counter",
		"Goroutines finished, by outcome: ok (ran to its end), error (a ring lost its token, a tree "+
			"summed wrong, or a dial, accept, read or write failed), cancelled (retired at shutdown).")
	for o, name := range outcomeNames {
		x.sample("corostorm_tasks_completed_total", with(ew, label{"outcome", name}), formatUint(t.completed[o]))
	}
	x.family("corostorm_task_resumes_total", "counter",
		"Goroutine wake-ups the workload sees (timer fired, Gosched returned, token, join or rpc reply "+
			"received); rate() is resumes per second.")
	x.sample("corostorm_task_resumes_total", ew, formatUint(t.resumes))
	x.family("corostorm_schedule_latency_seconds", "histogram",
		"Scheduling latency. source=timer: actual wake-up minus the intended deadline (the schedule, not "+
			"the previous wake, so backlog is not hidden); source=ready: resume minus the moment the goroutine "+
			"was made runnable (Gosched, channel send, last child done); source=io: resume minus the moment "+
			"a reply was delivered to it (rpc: the connection's reader sent the call on its done channel). "+
			"Buckets double from 1us as corostorm's; use histogram_quantile over rate() of the buckets.")
	for i, name := range sourceNames {
		if i == sourceIO && !src.network {
			continue
		}
		x.histogram("corostorm_schedule_latency_seconds", with(ew, label{"source", name}), &t.latency[i])
	}
	if src.network {
		// As corostorm: only a workload that uses sockets has these series.
		x.family("corostorm_connections_live", "gauge",
			"Loopback TCP connections open now: echo, one per unit (its client's end); rpc, the shared "+
				"connections its callers use.")
		x.sample("corostorm_connections_live", ew, formatUint(t.connections))
		x.family("corostorm_io_round_trip_seconds", "histogram",
			"Round trips over loopback TCP: echo, the request written to the reply read and checked; rpc, "+
				"the request stamped to the reply received by its caller (the queue on the shared connection "+
				"included). Buckets as corostorm_schedule_latency_seconds.")
		x.histogram("corostorm_io_round_trip_seconds", ew, &t.roundTrip)
	}

	if live := t.live(); live > 0 {
		growth := src.base.growth()
		per, _ := growth.perTask(live)
		x.family("corostorm_memory_per_task_bytes", "gauge",
			"Memory one live goroutine costs, by method: heap = growth of the Go heap's objects plus "+
				"goroutine stacks (runtime.MemStats HeapAlloc + StackInuse; a goroutine's frames live on its "+
				"stack) since before the first spawn / live goroutines; rss = growth of resident memory since "+
				"then / live goroutines; kernel = growth of kernel memory (the memory cgroup's kernel and socket "+
				"memory, or outside a cgroup the machine's slab and socket buffers) / live goroutines: what "+
				"sockets cost outside the process, moved by anything else in that cgroup or machine. rss is "+
				"what the process pays; absent while no goroutine is alive.")
		for _, m := range per.byMethod() {
			x.sample("corostorm_memory_per_task_bytes", []label{engine, {"method", m.name}}, formatFloat(m.value))
		}
		x.family("corostorm_memory_growth_bytes", "gauge",
			"The numerator of corostorm_memory_per_task_bytes, by method: bytes grown since before the "+
				"first spawn (floored at 0). A fleet's memory per task is sum(this) / "+
				"sum(corostorm_tasks_live), never an average of ratios.")
		for _, m := range growth.byMethod() {
			x.sample("corostorm_memory_growth_bytes", []label{engine, {"method", m.name}}, formatFloat(m.value))
		}
	}

	p := readProcessStats()
	x.family("process_cpu_seconds_total", "counter",
		"Total user and system CPU time spent in seconds (every thread: the Go scheduler's Ps, the garbage "+
			"collector, sysmon). A rate of 1 means one CPU fully busy.")
	x.sample("process_cpu_seconds_total", nil, formatFloat(p.cpuSeconds))
	x.family("process_resident_memory_bytes", "gauge",
		"Resident memory size in bytes: pages of this process held in RAM, shared library pages included.")
	x.sample("process_resident_memory_bytes", nil, formatUint(p.residentBytes))
	x.family("process_virtual_memory_bytes", "gauge",
		"Virtual memory size in bytes: address space reserved, most of it never touched. Large values are "+
			"normal; read process_resident_memory_bytes for memory used.")
	x.sample("process_virtual_memory_bytes", nil, formatUint(p.virtualBytes))
	x.family("process_open_fds", "gauge", "Number of open file descriptors.")
	x.sample("process_open_fds", nil, formatUint(p.openFDs))
	x.family("process_max_fds", "gauge",
		"Maximum number of open file descriptors (the soft RLIMIT_NOFILE). Opening more fails with EMFILE.")
	x.sample("process_max_fds", nil, formatUint(p.maxFDs))
	x.family("process_start_time_seconds", "gauge",
		"Start time of the process since unix epoch in seconds. time() minus this is the uptime.")
	x.sample("process_start_time_seconds", nil, strconv.FormatFloat(p.startTimeSeconds, 'f', -1, 64))
	x.family("process_threads", "gauge",
		"Number of OS threads in the process: GOMAXPROCS running goroutines plus the runtime's helpers, "+
			"never one per goroutine.")
	x.sample("process_threads", nil, formatUint(p.threads))
	return w.Flush()
}
