// Memory per task, measured as corostorm measures it, against baselines
// taken before the first spawn:
//
//	rss:    growth of resident memory (/proc/self/statm) / live goroutines;
//	heap:   growth of the Go heap's objects plus goroutine stacks
//	        (runtime.MemStats HeapAlloc + StackInuse) / live goroutines;
//	kernel: growth of kernel memory (kernelBytes) / live goroutines: what
//	        sockets cost outside the process (buffers, socket and inode slabs).
//
// A goroutine's stack is where Go keeps its frames, so heap is the nearest
// Go figure to corostorm's allocator bytes in use (there is no exact
// per-frame figure: Go has no `frame` method).
// Cost: runtime.ReadMemStats stops the world for a moment (O(GOMAXPROCS),
// not O(goroutines)); the /proc and /sys reads are a few microseconds.
package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

var pageSize = uint64(os.Getpagesize())

// statmField reads field i (0: size, 1: resident) of /proc/self/statm in bytes.
func statmField(i int) uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) <= i {
		return 0
	}
	pages, _ := strconv.ParseUint(string(f[i]), 10, 64)
	return pages * pageSize
}

func residentBytes() uint64 { return statmField(1) }
func virtualBytes() uint64  { return statmField(0) }

// heapBytes: Go heap objects in use plus goroutine stack spans.
func heapBytes() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// statusField reads "Name: value ..." from /proc/self/status; kB values come back in bytes.
func statusField(name string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte(name+":")) {
			continue
		}
		f := bytes.Fields(line[len(name)+1:])
		if len(f) == 0 {
			return 0
		}
		v, _ := strconv.ParseUint(string(f[0]), 10, 64)
		if len(f) > 1 && string(f[1]) == "kB" {
			v *= 1024
		}
		return v
	}
	return 0
}

// peakResidentBytes: the high-water mark of resident memory (VmHWM).
func peakResidentBytes() uint64 { return statusField("VmHWM") }

// ---- kernel memory ----
//
// A socket's buffers and its kernel objects are not in the process's memory,
// so neither heap nor rss sees what a connection costs. kernelBytes reads it
// as corostorm's read_kernel_memory (src/metrics/probes.h) does:
//
//   - the process's memory cgroup, when it is not the root one:
//     v2: memory.stat `kernel` + `sock` (before `kernel` existed, 5.18:
//     `slab` + `kernel_stack` + `pagetables` + `percpu` where listed, + `sock`);
//     v1: memory.kmem.usage_in_bytes + memory.kmem.tcp.usage_in_bytes (an
//     absent tcp file counts 0);
//   - otherwise, or when those files are missing, malformed or show no kernel
//     memory at all (accounting off), the machine's: /proc/meminfo Slab +
//     /proc/net/sockstat (TCP `mem` + UDP `mem`) pages + FRAG `memory` bytes.
//
// The cgroup is the v1 `memory` line's when there is one (hybrid mode), else
// the v2 `0::` line's. "/" is the root, except a v2 "/" whose directory has
// memory.current: a cgroup namespace's root, a container's own cgroup. A path
// missing under the mount (a container without a cgroup namespace) is read at
// the mount root, which is then the process's own cgroup.
// Either way other processes in the same cgroup, or on the machine, move it:
// it is a fair per-task figure only while this process is what grows.

type kernelSource int

const (
	kernelNone kernelSource = iota // nothing could be read
	kernelCgroupV2
	kernelCgroupV1
	kernelMachine
)

const cgroupRoot = "/sys/fs/cgroup"

// kernelBytes: the kernel memory now, and where it was read.
func kernelBytes() (uint64, kernelSource) {
	if dir, v2, root, ok := memoryCgroup(); ok && !root {
		if v2 {
			if b, ok := v2KernelBytes(dir); ok {
				return b, kernelCgroupV2
			}
		} else if b, ok := v1KernelBytes(dir); ok {
			return b, kernelCgroupV1
		}
	}
	if b, ok := machineKernelBytes(); ok {
		return b, kernelMachine
	}
	return 0, kernelNone
}

// memoryCgroup: the directory of the process's memory cgroup, whether it is
// v2, and whether it is a hierarchy's root (whose figures are everyone's).
func memoryCgroup() (dir string, v2, root, ok bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", false, false, false
	}
	type line struct{ hierarchy, controllers, path string }
	var lines []line
	for _, text := range strings.Split(string(wholeLines(b)), "\n") {
		// hierarchy-ID:controller-list:path; the path may hold colons.
		if f := strings.SplitN(text, ":", 3); len(f) == 3 {
			lines = append(lines, line{f[0], f[1], f[2]})
		}
	}
	for _, l := range lines {
		if l.hierarchy == "0" || !listsController(l.controllers, "memory") {
			continue
		}
		// Mounted under its controller list, often also under "memory".
		mounts := []string{filepath.Join(cgroupRoot, l.controllers)}
		if l.controllers != "memory" {
			mounts = append(mounts, filepath.Join(cgroupRoot, "memory"))
		}
		for _, m := range mounts {
			if isDir(filepath.Join(m, l.path)) {
				return filepath.Join(m, l.path), false, l.path == "/", true
			}
		}
		for _, m := range mounts {
			if isDir(m) {
				return m, false, l.path == "/", true
			}
		}
		return "", false, false, false
	}
	for _, l := range lines {
		if l.hierarchy == "0" && l.controllers == "" {
			dir := filepath.Join(cgroupRoot, l.path)
			if !isDir(dir) {
				dir = cgroupRoot
			}
			// The real v2 root has no memory.current; a namespace's root has.
			_, err := os.Stat(filepath.Join(dir, "memory.current"))
			return dir, true, l.path == "/" && err != nil, true
		}
	}
	return "", false, false, false
}

func listsController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// v2KernelBytes: every key the sum needs must be there, or nothing is.
func v2KernelBytes(dir string) (uint64, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return 0, false
	}
	b = wholeLines(b)
	sock, ok := statValue(b, "sock")
	if !ok {
		return 0, false
	}
	kernel, ok := statValue(b, "kernel")
	if !hasKey(b, "kernel") {
		slab, ok1 := statValue(b, "slab")
		stack, ok2 := statValue(b, "kernel_stack")
		tables, ok3 := statValue(b, "pagetables")
		percpu, ok4 := uint64(0), true
		if hasKey(b, "percpu") {
			percpu, ok4 = statValue(b, "percpu")
		}
		kernel, ok = slab+stack+tables+percpu, ok1 && ok2 && ok3 && ok4
	}
	// 0: kernel memory accounting is off, and sock alone would pass for it.
	if !ok || kernel == 0 {
		return 0, false
	}
	return kernel + sock, true
}

func v1KernelBytes(dir string) (uint64, bool) {
	kmem, ok := readUint(filepath.Join(dir, "memory.kmem.usage_in_bytes"))
	if !ok || kmem == 0 { // 0: kernel memory accounting is off
		return 0, false
	}
	tcpFile := filepath.Join(dir, "memory.kmem.tcp.usage_in_bytes")
	if _, err := os.Stat(tcpFile); err != nil {
		return kmem, true
	}
	tcp, ok := readUint(tcpFile)
	return kmem + tcp, ok
}

func machineKernelBytes() (uint64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	var slab uint64
	found := false
	for _, line := range strings.Split(string(wholeLines(b)), "\n") {
		if v, ok := cutPrefix(line, "Slab:"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, false
			}
			kib, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return 0, false
			}
			slab, found = kib*1024, true
			break
		}
	}
	if !found {
		return 0, false
	}
	sockstat, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return slab, true
	}
	sockstat = wholeLines(sockstat)
	// TCP and UDP count pages, FRAG counts bytes.
	pages := sockstatValue(sockstat, "TCP:", "mem") + sockstatValue(sockstat, "UDP:", "mem")
	return slab + pages*pageSize + sockstatValue(sockstat, "FRAG:", "memory"), true
}

// sockstatValue: the number after `name` on the line labelled `label`, e.g.
// ("TCP:", "mem") in "TCP: inuse 5 orphan 0 tw 0 alloc 7 mem 3"; 0 if none.
func sockstatValue(b []byte, label, name string) uint64 {
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != label {
			continue
		}
		for i := 1; i+1 < len(f); i += 2 { // names and values alternate
			if f[i] == name {
				n, _ := strconv.ParseUint(f[i+1], 10, 64)
				return n
			}
		}
		return 0
	}
	return 0
}

// wholeLines: up to and including the last newline. These files are written
// in whole lines; a last line without one was cut off and may miss digits.
func wholeLines(b []byte) []byte {
	return b[:bytes.LastIndexByte(b, '\n')+1]
}

func hasKey(b []byte, name string) bool {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if f := bytes.Fields(line); len(f) > 0 && string(f[0]) == name {
			return true
		}
	}
	return false
}

// statValue reads the first "name value" line of a flat-keyed file.
func statValue(b []byte, name string) (uint64, bool) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) > 0 && string(f[0]) == name {
			if len(f) != 2 {
				return 0, false
			}
			v, err := strconv.ParseUint(string(f[1]), 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}

func readUint(path string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(wholeLines(b))), 10, 64)
	return v, err == nil
}

// ---- per task ----

type baselines struct {
	rss, heap, kernel uint64
	kernelFrom        kernelSource
}

// takeBaselines collects garbage first, so that what start-up left behind is
// not mistaken for room the goroutines' memory then reuses.
func takeBaselines() baselines {
	runtime.GC()
	b := baselines{rss: residentBytes(), heap: heapBytes()}
	b.kernel, b.kernelFrom = kernelBytes()
	return b
}

// memoryFigures is one figure per method: growth in bytes, or per task.
// hasKernel is false when kernel memory could not be read now from where the
// baseline was read: a figure from elsewhere is not comparable with it.
type memoryFigures struct {
	heap, rss, kernel float64
	hasKernel         bool
}

type methodFigure struct {
	name  string
	value float64
}

// byMethod: the figures with their `method` label, in the order exported.
func (f memoryFigures) byMethod() []methodFigure {
	out := []methodFigure{{"heap", f.heap}, {"rss", f.rss}}
	if f.hasKernel {
		out = append(out, methodFigure{"kernel", f.kernel})
	}
	return out
}

// growth reads every method now against the baselines, floored at 0.
func (b baselines) growth() memoryFigures {
	g := func(now, base uint64) float64 {
		if now > base {
			return float64(now - base)
		}
		return 0
	}
	f := memoryFigures{heap: g(heapBytes(), b.heap), rss: g(residentBytes(), b.rss)}
	if kernel, from := kernelBytes(); from != kernelNone && from == b.kernelFrom {
		f.kernel, f.hasKernel = g(kernel, b.kernel), true
	}
	return f
}

// perTask divides a growth by live; false with none alive.
func (g memoryFigures) perTask(live uint64) (memoryFigures, bool) {
	if live == 0 {
		return memoryFigures{}, false
	}
	n := float64(live)
	return memoryFigures{heap: g.heap / n, rss: g.rss / n, kernel: g.kernel / n, hasKernel: g.hasKernel}, true
}
