// The workloads: corostorm's sleep, yield, ring and spawn_tree written as
// goroutines, recording what corostorm's lean tasks record
// (src/workloads/*.cpp, src/runtime/worker.cpp):
//   - every wake-up or resume counts in resumes;
//   - sleep: a wake-up's lateness against the intended deadline (source=timer);
//   - yield, ring, the tree's joins: resume minus the moment the goroutine was
//     made runnable (source=ready);
//   - every goroutine counts as spawned when started and by outcome when it
//     ends (ring members and tree nodes included).
//
// Latency is recorded for every resume (corostorm's latency.sample_every: 1).
// A goroutine retires (outcome cancelled) at its next wake-up once `retiring`
// is set, as corostorm's tasks do when their target drops to zero.
// Thread-safety: a workload's options are read-only once spawning starts.
package main

import (
	"math"
	"math/rand"
	"runtime"
	"sync/atomic"
	"time"
)

// retiring is set at shutdown: every goroutine ends at its next wake-up.
var retiring atomic.Bool

var epoch = time.Now()

// nowNs reads the monotonic clock (time.Since uses the monotonic reading).
func nowNs() int64 { return int64(time.Since(epoch)) }

// A workload starts one unit (a task, a ring, a tree) per spawnUnit call.
// `parent` is the spawner's shard, where the unit's first goroutine counts as
// spawned; `e` is where the unit records.
type workload interface {
	kind() string
	tasksPerUnit() uint64
	spawnUnit(parent *shard, e env, rnd *rand.Rand)
}

// ---- sleep: sleep until deadline += period, from a random first phase ----

type sleepWorkload struct {
	periodNs int64
	rounds   uint64 // 0: forever
}

func (*sleepWorkload) kind() string         { return "sleep" }
func (*sleepWorkload) tasksPerUnit() uint64 { return 1 }

func (w *sleepWorkload) spawnUnit(parent *shard, e env, rnd *rand.Rand) {
	phase := rnd.Int63n(w.periodNs)
	parent.spawned.Add(1)
	go sleeper(e, w, nowNs()+phase)
}

func sleeper(e env, w *sleepWorkload, deadline int64) { e.finish(sleepLoop(e, w, deadline)) }

func sleepLoop(e env, w *sleepWorkload, deadline int64) outcome {
	sh := e.shard()
	for done := uint64(0); w.rounds == 0 || done < w.rounds; done++ {
		if d := deadline - nowNs(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		// A wake-up already late does not sleep at all; it still counts as
		// a wake-up and its lateness is recorded: the backlog shows.
		sh.resumes.Add(1)
		sh.latency[sourceTimer].record(nowNs() - deadline)
		if retiring.Load() {
			return outcomeCancelled
		}
		deadline += w.periodNs // the schedule, not the last wake-up: no coordinated omission
	}
	return outcomeOK
}

// ---- yield: give the processor back and be resumed ----

type yieldWorkload struct {
	rounds uint64 // 0: forever
}

func (*yieldWorkload) kind() string         { return "yield" }
func (*yieldWorkload) tasksPerUnit() uint64 { return 1 }

func (w *yieldWorkload) spawnUnit(parent *shard, e env, _ *rand.Rand) {
	parent.spawned.Add(1)
	go yielder(e, w)
}

func yielder(e env, w *yieldWorkload) { e.finish(yieldLoop(e, w)) }

func yieldLoop(e env, w *yieldWorkload) outcome {
	sh := e.shard()
	for done := uint64(0); w.rounds == 0 || done < w.rounds; done++ {
		yieldNow(sh)
		if retiring.Load() {
			return outcomeCancelled
		}
	}
	return outcomeOK
}

// yieldNow: runtime.Gosched puts the goroutine on the run queue at once, so
// the time from before the call to after it is resume minus made runnable.
func yieldNow(sh *shard) {
	runnable := nowNs()
	runtime.Gosched()
	sh.resumes.Add(1)
	sh.latency[sourceReady].record(nowNs() - runnable)
}

// ---- ring: ring_size goroutines pass one token through capacity-1 channels ----

type ringWorkload struct {
	size uint64 // goroutines per ring, the leader included
}

func (*ringWorkload) kind() string           { return "ring" }
func (w *ringWorkload) tasksPerUnit() uint64 { return w.size }

const stopHops = math.MaxUint64 // the token that ends a ring

type token struct {
	hops   uint64
	sentNs int64
}

func (w *ringWorkload) spawnUnit(parent *shard, e env, _ *rand.Rand) {
	parent.spawned.Add(1)
	go ringLeader(e, w.size)
}

// pass and take: a hand-off is a resume and a source=ready sample, from the
// send to the receiver running.
func pass(to chan<- token, hops uint64) { to <- token{hops, nowNs()} }

func take(sh *shard, from <-chan token) token {
	t := <-from
	sh.resumes.Add(1)
	sh.latency[sourceReady].record(nowNs() - t.sentNs)
	return t
}

func ringLeader(e env, size uint64) {
	sh := e.shard()
	self := make(chan token, 1)
	next := self
	// Spawned back to front, so each member can be given its successor.
	for k := size - 1; k >= 1; k-- {
		in := make(chan token, 1)
		sh.spawned.Add(1)
		go ringMember(e.child(k), in, next, k == size-1)
		next = in
	}
	e.finish(leaderLoop(sh, self, next, size))
}

func leaderLoop(sh *shard, self <-chan token, next chan<- token, size uint64) outcome {
	pass(next, 1)
	for lap := uint64(1); ; lap++ {
		t := take(sh, self)
		if t.hops != lap*size {
			return outcomeError // token lost or duplicated
		}
		if retiring.Load() {
			pass(next, stopHops)
			return outcomeCancelled
		}
		pass(next, t.hops+1)
	}
}

// ringMember forwards the token; the stop token goes round once, and the last
// member does not hand it back to the leader, which has left.
func ringMember(e env, self <-chan token, next chan<- token, last bool) {
	sh := e.shard()
	for {
		t := take(sh, self)
		if t.hops == stopHops {
			if !last {
				pass(next, stopHops)
			}
			e.finish(outcomeCancelled)
			return
		}
		pass(next, t.hops+1)
	}
}

// ---- spawn_tree: skynet, each node spawns fanout children down to depth ----

type treeWorkload struct {
	fanout, depth uint64
	tasks         uint64 // 1 + fanout + ... + fanout^depth
	sum           uint64 // of the leaves' indices 0 .. fanout^depth - 1
}

func newTreeWorkload(fanout, depth uint64) *treeWorkload {
	w := &treeWorkload{fanout: fanout, depth: depth}
	level := uint64(1)
	for i := uint64(0); i <= depth; i++ {
		w.tasks += level
		if i < depth {
			level *= fanout
		}
	}
	n := level // leaves
	if n%2 == 0 {
		w.sum = (n / 2) * (n - 1)
	} else {
		w.sum = n * ((n - 1) / 2)
	}
	return w
}

func (*treeWorkload) kind() string           { return "spawn_tree" }
func (w *treeWorkload) tasksPerUnit() uint64 { return w.tasks }

func (w *treeWorkload) spawnUnit(parent *shard, e env, _ *rand.Rand) {
	parent.spawned.Add(1)
	go treeRoot(e, w)
}

// join: the parent waits once for all its children, as corostorm's
// join_counter; the last child makes it runnable. Go's usual skynet receives
// each child's sum from a channel instead, waking the parent up to fanout
// times; one wake-up per join keeps resumes and ready latency comparable.
type join struct {
	pending atomic.Int64
	sum     atomic.Uint64
	readyNs atomic.Int64
	wake    chan struct{} // capacity 1: the last child never blocks
}

func newJoin(children uint64) *join {
	j := &join{wake: make(chan struct{}, 1)}
	j.pending.Store(int64(children))
	return j
}

func (j *join) childDone(result uint64) {
	j.sum.Add(result)
	if j.pending.Add(-1) == 0 {
		j.readyNs.Store(nowNs())
		j.wake <- struct{}{}
	}
}

// wait returns the children's sum. When all were done before the parent got
// here it does not block, and (as corostorm's join) that is no resume.
func (j *join) wait(sh *shard) uint64 {
	select {
	case <-j.wake:
		return j.sum.Load()
	default:
	}
	<-j.wake
	sh.resumes.Add(1)
	sh.latency[sourceReady].record(nowNs() - j.readyNs.Load())
	return j.sum.Load()
}

func spawnChildren(e env, sh *shard, w *treeWorkload, j *join, levelsBelow, index uint64) {
	for k := uint64(0); k < w.fanout; k++ {
		sh.spawned.Add(1)
		go treeNode(e.child(k), j, w, levelsBelow, index*w.fanout+k)
	}
}

func treeRoot(e env, w *treeWorkload) { e.finish(rootLoop(e, w)) }

func rootLoop(e env, w *treeWorkload) outcome {
	sh := e.shard()
	for {
		j := newJoin(w.fanout)
		spawnChildren(e, sh, w, j, w.depth-1, 0)
		if j.wait(sh) != w.sum {
			return outcomeError
		}
		if retiring.Load() {
			return outcomeCancelled
		}
		yieldNow(sh) // one tree per turn: let the other goroutines run
	}
}

func treeNode(e env, parent *join, w *treeWorkload, levelsBelow, index uint64) {
	result := index
	if levelsBelow > 0 {
		sh := e.shard()
		j := newJoin(w.fanout)
		spawnChildren(e, sh, w, j, levelsBelow-1, index)
		result = j.wait(sh)
	}
	// Counted before reporting, so a finished tree has every node counted.
	e.finish(outcomeOK)
	parent.childDone(result)
}
