// Process and machine facts: CPU time, the process_* metrics and what the
// prove report says about the machine. Each read is a small /proc or /sys
// file or a system call; none is O(goroutines).
package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// cpuSeconds: user + system CPU time of the whole process.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	// Summed in whole microseconds, so that the seconds print without float noise.
	us := func(t syscall.Timeval) int64 { return int64(t.Sec)*1_000_000 + int64(t.Usec) }
	return float64(us(ru.Utime)+us(ru.Stime)) / 1e6
}

type processStats struct {
	cpuSeconds       float64
	residentBytes    uint64
	virtualBytes     uint64
	openFDs          uint64
	maxFDs           uint64
	startTimeSeconds float64
	threads          uint64
}

func readProcessStats() processStats {
	s := processStats{
		cpuSeconds:       cpuSeconds(),
		residentBytes:    residentBytes(),
		virtualBytes:     virtualBytes(),
		startTimeSeconds: startTimeSeconds(),
		threads:          statusField("Threads"),
	}
	s.openFDs = openFDs()
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		s.maxFDs = lim.Cur
	}
	return s
}

// openFDs counts /proc/self/fd (the directory's own descriptor included).
func openFDs() uint64 {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return uint64(len(entries))
}

// startTimeSeconds: boot time plus the process's start in clock ticks
// (/proc/self/stat field 22; USER_HZ is 100 wherever /proc reports ticks).
func startTimeSeconds() float64 {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The command name is in parentheses and may hold spaces: count after it.
	rest := stat[bytes.LastIndexByte(stat, ')')+1:]
	f := bytes.Fields(rest)
	if len(f) < 20 { // state is field 3, starttime field 22
		return 0
	}
	ticks, _ := strconv.ParseUint(string(f[19]), 10, 64)
	procStat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(procStat), "\n") {
		if v, ok := cutPrefix(line, "btime "); ok {
			btime, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return float64(btime*100+ticks) / 100
		}
	}
	return 0
}

type machineFacts struct {
	CPUModel    *string `json:"cpu_model"`
	CPUs        int     `json:"cpus"`
	MemoryBytes uint64  `json:"memory_bytes"`
	Kernel      *string `json:"kernel"`
	Compiler    string  `json:"compiler"`
	Boost       *string `json:"boost"`     // always null: no Boost in Go
	Corostorm   string  `json:"corostorm"` // the version of corostorm this peer was built with
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func probeMachine() machineFacts {
	return machineFacts{
		CPUModel:    optional(cpuModel()),
		CPUs:        availableCPUs(),
		MemoryBytes: meminfoBytes("MemTotal"),
		Kernel:      optional(kernelRelease()),
		Compiler:    runtime.Version(),
		Corostorm:   version,
	}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// meminfoBytes reads one /proc/meminfo line ("MemTotal", "MemAvailable") in bytes.
func meminfoBytes(name string) uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := cutPrefix(line, name+":"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				return 0
			}
			n, _ := strconv.ParseUint(f[0], 10, 64)
			return n * 1024
		}
	}
	return 0
}

func kernelRelease() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return ""
	}
	var b []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// availableCPUs: the affinity mask (runtime.NumCPU), further limited by a
// cgroup v2 CPU quota, rounded up; as corostorm's available_cpus().
func availableCPUs() int {
	n := runtime.NumCPU()
	if q, ok := cgroupCPULimit(); ok {
		if c := int(math.Ceil(q)); c >= 1 && c < n {
			n = c
		}
	}
	return n
}

func cgroupCPULimit() (float64, bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		path, ok := cutPrefix(line, "0::")
		if !ok {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", path, "cpu.max"))
		if err != nil {
			return 0, false
		}
		f := strings.Fields(string(raw))
		if len(f) != 2 || f[0] == "max" {
			return 0, false
		}
		quota, err1 := strconv.ParseFloat(f[0], 64)
		period, err2 := strconv.ParseFloat(f[1], 64)
		if err1 != nil || err2 != nil || period <= 0 {
			return 0, false
		}
		return quota / period, true
	}
	return 0, false
}

// cutPrefix is strings.CutPrefix, which Go 1.19 does not have yet.
func cutPrefix(s, prefix string) (string, bool) {
	if !strings.HasPrefix(s, prefix) {
		return s, false
	}
	return s[len(prefix):], true
}
