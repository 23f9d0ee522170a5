// Memory per task, measured as corostorm measures it, against baselines
// taken before the first spawn:
//
//	rss:  growth of resident memory (/proc/self/statm) / live goroutines;
//	heap: growth of the Go heap's objects plus goroutine stacks
//	      (runtime.MemStats HeapAlloc + StackInuse) / live goroutines.
//
// A goroutine's stack is where Go keeps its frames, so heap is the nearest
// Go figure to corostorm's allocator bytes in use (there is no exact
// per-frame figure: Go has no `frame` method).
// Cost: runtime.ReadMemStats stops the world for a moment (O(GOMAXPROCS),
// not O(goroutines)); the /proc reads are a few microseconds.
package main

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
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

type baselines struct {
	rss, heap uint64
}

// takeBaselines collects garbage first, so that what start-up left behind is
// not mistaken for room the goroutines' memory then reuses.
func takeBaselines() baselines {
	runtime.GC()
	return baselines{rss: residentBytes(), heap: heapBytes()}
}

type memoryPerTask struct {
	heap, rss float64
}

// perTask divides the growth since the baselines by live; false with none alive.
func (b baselines) perTask(live uint64) (memoryPerTask, bool) {
	if live == 0 {
		return memoryPerTask{}, false
	}
	growth := func(now, base uint64) float64 {
		if now > base {
			return float64(now - base)
		}
		return 0
	}
	n := float64(live)
	return memoryPerTask{
		heap: growth(heapBytes(), b.heap) / n,
		rss:  growth(residentBytes(), b.rss) / n,
	}, true
}
