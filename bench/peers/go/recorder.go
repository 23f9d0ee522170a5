// Recording: the counters and latency histograms goroutines write on their
// hot path, and the snapshots that /metrics and the prove report read.
//
// Design note. Go gives a goroutine no stable "current worker" to index a
// per-worker shard by, so the recorder keeps a fixed array of shards (a
// power of two, at least 8 per GOMAXPROCS) and every goroutine is given one
// at spawn: a unit's shard follows the spawn order, a ring member's or tree
// node's is its parent's plus its position. Writes are atomic adds (one
// `lock xadd` each, never a mutex); two goroutines on different CPUs share a
// shard only by chance, and then pay a contended cache line, not a lock.
// Shards are padded so that two of them never share a cache line.
// Reads sum every shard: O(shards x buckets), never O(goroutines).
// This file knows nothing of HTTP or of the text format; metrics.go exports.
package main

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// Latency buckets exactly as corostorm's (src/metrics/recorder.h): bucket i
// counts values <= 2^i microseconds (1 us ... 2^24 us = 16.8 s), the last
// bucket everything above.
const (
	finiteBuckets = 25
	bucketCount   = finiteBuckets + 1
)

// Latency sources, as corostorm's `source` label.
const (
	sourceTimer = iota // actual wake-up minus the intended deadline
	sourceReady        // resume minus the moment the goroutine was made runnable
	sourceIO           // resume minus the moment a reply was delivered to the goroutine
	sourceCount
)

var sourceNames = [sourceCount]string{"timer", "ready", "io"}

// Task outcomes, as corostorm's `outcome` label.
type outcome int

const (
	outcomeOK outcome = iota
	outcomeError
	outcomeCancelled
	outcomeCount
)

var outcomeNames = [outcomeCount]string{"ok", "error", "cancelled"}

func bucketFor(ns int64) int {
	if ns < 0 {
		ns = 0
	}
	usCeil := (uint64(ns) + 999) / 1000
	if usCeil <= 1 {
		return 0
	}
	i := bits.Len64(usCeil - 1)
	if i < finiteBuckets {
		return i
	}
	return finiteBuckets
}

// upperBoundSeconds is the upper bound of bucket i (+Inf for the last); the
// same doubles corostorm computes with ldexp(1e-6, i).
func upperBoundSeconds(i int) float64 {
	if i >= finiteBuckets {
		return math.Inf(1)
	}
	return math.Ldexp(1e-6, i)
}

type histogram struct {
	buckets [bucketCount]atomic.Uint64 // not cumulative
	sumNs   atomic.Uint64
}

func (h *histogram) record(ns int64) {
	if ns < 0 {
		ns = 0 // a clock oddity must not become a 2^64 ns sample
	}
	h.buckets[bucketFor(ns)].Add(1)
	h.sumNs.Add(uint64(ns))
}

// shard is what a set of goroutines records into.
type shard struct {
	spawned   atomic.Uint64
	resumes   atomic.Uint64
	completed [outcomeCount]atomic.Uint64
	latency   [sourceCount]histogram
	roundTrip histogram // echo, rpc: request written to reply read
	_         [64]byte  // keeps the next shard's counters off this one's last cache line
}

type recorder struct {
	shards []shard
	mask   uint32
	// connections is the live loopback connections of the echo and rpc
	// workloads. One shared counter: a connection opens and closes once per
	// unit (echo) or once per run (rpc), far off any hot path.
	connections atomic.Int64
}

func newRecorder(threads int) *recorder {
	n := 16
	for n < 8*threads {
		n *= 2
	}
	return &recorder{shards: make([]shard, n), mask: uint32(n - 1)}
}

// env is what every goroutine of a workload carries: where it records.
type env struct {
	rec  *recorder
	slot uint32
}

func (e env) shard() *shard { return &e.rec.shards[e.slot&e.rec.mask] }

// child is the env of the k-th goroutine this one spawns: a neighbouring
// shard, so that a tree's or a ring's goroutines spread over the shards.
func (e env) child(k uint64) env { return env{e.rec, e.slot + uint32(k) + 1} }

// finish counts the goroutine's end; its last act.
func (e env) finish(o outcome) { e.shard().completed[o].Add(1) }

// ---- reading ----

type latencySnapshot struct {
	buckets [bucketCount]uint64
	sumNs   uint64
}

func (s *latencySnapshot) count() uint64 {
	var n uint64
	for _, b := range s.buckets {
		n += b
	}
	return n
}

// quantile interpolates linearly inside the bucket, as Prometheus'
// histogram_quantile and corostorm's latency_snapshot::quantile do; NaN when
// empty. A quantile in the +Inf bucket reports the largest finite bound.
func (s *latencySnapshot) quantile(q float64) float64 {
	total := s.count()
	if total == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	var below uint64
	for i, n := range s.buckets {
		if float64(below+n) >= rank && n > 0 {
			if i == finiteBuckets {
				return upperBoundSeconds(i - 1)
			}
			lower := 0.0
			if i > 0 {
				lower = upperBoundSeconds(i - 1)
			}
			upper := upperBoundSeconds(i)
			return lower + (upper-lower)*(rank-float64(below))/float64(n)
		}
		below += n
	}
	return upperBoundSeconds(finiteBuckets - 1)
}

// minus is `s - before`, bucket by bucket: the samples recorded in between.
func (s latencySnapshot) minus(before latencySnapshot) latencySnapshot {
	sub := func(a, b uint64) uint64 {
		if a > b {
			return a - b
		}
		return 0
	}
	var out latencySnapshot
	for i := range out.buckets {
		out.buckets[i] = sub(s.buckets[i], before.buckets[i])
	}
	out.sumNs = sub(s.sumNs, before.sumNs)
	return out
}

// totals is every shard summed at one instant.
type totals struct {
	spawned   uint64
	resumes   uint64
	completed [outcomeCount]uint64
	latency   [sourceCount]latencySnapshot
	roundTrip latencySnapshot
	// connections is read after the shards, so it can be a moment newer.
	connections uint64
}

func (t *totals) completedTotal() uint64 {
	return t.completed[0] + t.completed[1] + t.completed[2]
}

// live is spawned minus finished, never negative.
func (t *totals) live() uint64 {
	done := t.completedTotal()
	if t.spawned >= done {
		return t.spawned - done
	}
	return 0
}

func (r *recorder) totals() totals {
	var t totals
	// Completions first: a goroutine that ends between the two passes then
	// shows as live for one read instead of driving the gauge negative.
	for i := range r.shards {
		for o := range t.completed {
			t.completed[o] += r.shards[i].completed[o].Load()
		}
	}
	for i := range r.shards {
		s := &r.shards[i]
		t.spawned += s.spawned.Load()
		t.resumes += s.resumes.Load()
		for src := range t.latency {
			t.latency[src].add(&s.latency[src])
		}
		t.roundTrip.add(&s.roundTrip)
	}
	if c := r.connections.Load(); c > 0 {
		t.connections = uint64(c)
	}
	return t
}

func (s *latencySnapshot) add(h *histogram) {
	for b := range h.buckets {
		s.buckets[b] += h.buckets[b].Load()
	}
	s.sumNs += h.sumNs.Load()
}
