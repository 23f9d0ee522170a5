// The prove report: the figures of one run with the keys of
// `corostorm prove --json` (src/prove/prove_report.cpp), and a short table
// for people. A figure that does not exist is null, never NaN.
package main

import (
	"fmt"
	"math"
	"strings"
)

type latencyJSON struct {
	Count uint64   `json:"count"`
	P50   *float64 `json:"p50"`
	P90   *float64 `json:"p90"`
	P99   *float64 `json:"p99"`
	P999  *float64 `json:"p999"`
	Max   *float64 `json:"max"`
}

type memoryJSON struct {
	Heap   *float64 `json:"heap"`
	Rss    *float64 `json:"rss"`
	Kernel *float64 `json:"kernel"`
}

// report has the keys of `corostorm prove --json`; nil pointers are null.
type report struct {
	Reached           bool                   `json:"reached"`
	Reason            *string                `json:"reason"`
	Target            uint64                 `json:"target"`
	Tasks             uint64                 `json:"tasks"`
	LiveTasks         uint64                 `json:"live_tasks"`
	Connections       uint64                 `json:"connections"`
	Workload          string                 `json:"workload"`
	Engine            string                 `json:"engine"`
	Layout            string                 `json:"layout"`
	Threads           int                    `json:"threads"`
	TimeToTarget      *float64               `json:"time_to_target_seconds"`
	SpawnRate         *float64               `json:"spawn_rate_per_second"`
	Memory            *memoryJSON            `json:"memory_per_task_bytes"`
	MeasureSeconds    *float64               `json:"measure_seconds"`
	ResumesPerSecond  *float64               `json:"resumes_per_second"`
	Latency           map[string]latencyJSON `json:"latency_seconds"`
	IORoundTrip       *latencyJSON           `json:"io_round_trip"`
	CPUSeconds        float64                `json:"cpu_seconds"`
	MeasureCPUSeconds *float64               `json:"measure_cpu_seconds"`
	CPUNsPerResume    *float64               `json:"cpu_ns_per_resume"`
	SecondsPerTree    *float64               `json:"seconds_per_tree"`
	PeakResidentBytes uint64                 `json:"peak_resident_bytes"`
	Machine           machineFacts           `json:"machine"`
	countsSpawned     bool
}

// num is a figure for the JSON: nil (null) when not finite.
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func summarize(s *latencySnapshot) (latencyJSON, bool) {
	n := s.count()
	if n == 0 {
		return latencyJSON{}, false
	}
	out := latencyJSON{Count: n, P50: num(s.quantile(0.5)), P90: num(s.quantile(0.9)),
		P99: num(s.quantile(0.99)), P999: num(s.quantile(0.999))}
	for i := bucketCount - 1; i >= 0; i-- {
		if s.buckets[i] > 0 {
			if i >= finiteBuckets {
				i = finiteBuckets - 1
			}
			out.Max = num(upperBoundSeconds(i))
			break
		}
	}
	return out, true
}

func latencyText(p *float64) string {
	if p == nil {
		return "-"
	}
	switch s := *p; {
	case s < 1e-3:
		return fmt.Sprintf("%.1f us", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.2f ms", s*1e3)
	default:
		return fmt.Sprintf("%.2f s", s)
	}
}

func figure(p *float64, format string) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf(format, *p)
}

// rate: 6172839.4 -> "6,172,839 unit".
func rate(p *float64, unit string) string {
	if p == nil || *p < 0 {
		return "-"
	}
	return groupDigits(uint64(math.Round(*p))) + " " + unit
}

// table is the report for people; --json is the one for scripts.
func (r *report) table() string {
	var b strings.Builder
	line := func(label, value string) { fmt.Fprintf(&b, "  %-17s %s\n", label, value) }
	counted := "tasks"
	if r.countsSpawned {
		counted = "tasks spawned"
	}
	fmt.Fprintf(&b, "corostorm-go-peer prove: %s %s %s, engine go, GOMAXPROCS %d\n\n",
		groupDigits(r.Target), r.Workload, counted, r.Threads)
	reached := "no"
	if r.Reached {
		reached = "yes"
	}
	line("reached", fmt.Sprintf("%s, %s of %s %s", reached, groupDigits(r.Tasks), groupDigits(r.Target), counted))
	if r.Reason != nil {
		line("stopped", *r.Reason)
	}
	line("time to reach", figure(r.TimeToTarget, "%.3f s"))
	line("spawn rate", rate(r.SpawnRate, "tasks/s"))
	if r.Connections > 0 {
		line("connections", groupDigits(r.Connections)+" live (loopback TCP)")
	}
	if r.Memory != nil {
		fmt.Fprintf(&b, "\nmemory per task (%s live goroutines)\n", groupDigits(r.LiveTasks))
		line("heap", figure(r.Memory.Heap, "%.1f B")+"  growth of Go heap objects + goroutine stacks")
		line("rss", figure(r.Memory.Rss, "%.1f B")+"  growth of resident memory")
		line("kernel", figure(r.Memory.Kernel, "%.1f B")+"  growth of kernel memory (cgroup's, else the machine's)")
	}
	if r.MeasureSeconds != nil {
		fmt.Fprintf(&b, "\nmeasured over %.2f s after reaching the target\n", *r.MeasureSeconds)
		line("resumes", rate(r.ResumesPerSecond, "/s"))
		line("cpu per resume", figure(r.CPUNsPerResume, "%.1f ns"))
		if r.SecondsPerTree != nil {
			line("time per tree", latencyText(r.SecondsPerTree))
		}
		quantiles := func(label string, l latencyJSON) {
			line(label, fmt.Sprintf("%s samples  p50 %s  p99 %s  p99.9 %s  max* %s", groupDigits(l.Count),
				latencyText(l.P50), latencyText(l.P99), latencyText(l.P999), latencyText(l.Max)))
		}
		for _, src := range sourceNames {
			if l, ok := r.Latency[src]; ok {
				quantiles(src, l)
			}
		}
		if r.IORoundTrip != nil {
			quantiles("io round trip", *r.IORoundTrip)
		}
	}
	line("cpu time", fmt.Sprintf("%.2f s (process user + system)", r.CPUSeconds))
	line("peak rss", fmt.Sprintf("%.1f MiB", float64(r.PeakResidentBytes)/(1<<20)))
	m := r.Machine
	model := "unknown"
	if m.CPUModel != nil {
		model = *m.CPUModel
	}
	fmt.Fprintf(&b, "\nmachine: %s, %d CPUs, %.1f GiB, %s\n", model, m.CPUs,
		float64(m.MemoryBytes)/math.Pow(2, 30), m.Compiler)
	return b.String()
}

func groupDigits(n uint64) string {
	s := fmt.Sprint(n)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range s {
		if i != 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
