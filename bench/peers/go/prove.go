// Prove mode: the Go side of `corostorm prove`. Spawn --tasks as fast as
// GOMAXPROCS spawner goroutines can, measure a window, print one report.
//
// Design note (phases, as corostorm's src/prove/prove.cpp):
//  1. spawning: poll the shards every millisecond until the target is reached
//     (tasks alive; for spawn_tree tasks spawned, as corostorm counts it), the
//     time limit (--duration) passes, or SIGINT/SIGTERM arrives;
//  2. measuring (only when reached): min(5 s, time left); resumes, latency and
//     CPU time (and echo's and rpc's round trips) are differences of two
//     snapshots, so they cover the window only; memory per task and the live
//     connections are read at its end;
//  3. the report goes to stdout and the process exits without draining (a
//     drain would measure nothing; corostorm's drains because its pool must
//     stop cleanly). Exit 0 when reached and measured, 1 otherwise.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	spawnPoll     = time.Millisecond
	measurePoll   = 10 * time.Millisecond
	measureWindow = 5 * time.Second
	progressEvery = 2 * time.Second
)

// prover holds one run's state; its methods are the phases.
type prover struct {
	o        options
	rec      *recorder
	base     baselines
	r        report
	start    time.Time
	deadline time.Time
	signal   atomic.Value // the name of the first SIGINT/SIGTERM, once one came
}

func prove(o options) int {
	p := &prover{o: o}
	p.watchSignals()
	p.r = report{
		Target:        o.tasks,
		Workload:      o.work.kind(),
		Engine:        "go",
		Layout:        "work_stealing",
		Threads:       o.threads,
		Latency:       map[string]latencyJSON{},
		Machine:       probeMachine(),
		countsSpawned: o.work.kind() == "spawn_tree",
	}
	p.rec = newRecorder(o.threads)
	if s, ok := o.work.(starter); ok {
		if err := s.start(p.rec); err != nil {
			fmt.Fprintf(os.Stderr, "corostorm-go-peer: %v\n", err)
			return 1
		}
	}
	warnDescriptors(o.work, o.tasks)
	p.base = takeBaselines()
	p.start = time.Now()
	p.deadline = p.start.Add(o.duration)
	startSpawners(p.rec, o.work, o.tasks/o.work.tasksPerUnit(), o.threads, 0)

	end := p.spawn()
	if p.r.Reached {
		end = p.measure(end)
	}
	p.r.LiveTasks = end.live()
	p.r.Connections = end.connections
	if p.r.LiveTasks > 0 {
		per, _ := p.base.growth().perTask(p.r.LiveTasks)
		p.r.Memory = &memoryJSON{Heap: num(per.heap), Rss: num(per.rss)}
		if per.hasKernel {
			p.r.Memory.Kernel = num(per.kernel)
		}
	}
	p.r.CPUSeconds = cpuSeconds()
	p.r.PeakResidentBytes = peakResidentBytes()
	return p.print()
}

// watchSignals: the first SIGINT/SIGTERM ends the run early, a second exits.
func (p *prover) watchSignals() {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		name := "SIGTERM"
		if <-signals == syscall.SIGINT {
			name = "SIGINT"
		}
		p.signal.Store(name)
		<-signals
		fmt.Fprintln(os.Stderr, "\ncorostorm-go-peer: second signal, exiting")
		os.Exit(1)
	}()
}

func (p *prover) stopSignal() (string, bool) {
	s, ok := p.signal.Load().(string)
	return s, ok
}

// progressOf is what the target counts: goroutines alive, or for a tree
// (never alive all at once) goroutines spawned.
func (p *prover) progressOf(t *totals) uint64 {
	if p.r.countsSpawned {
		return t.spawned
	}
	return t.live()
}

func (p *prover) counted() string {
	if p.r.countsSpawned {
		return "tasks spawned"
	}
	return "tasks"
}

func (p *prover) stop(reason string) {
	p.r.Reason = &reason
	fmt.Fprintln(os.Stderr, "corostorm-go-peer: stopped: "+reason)
}

// spawn is phase 1; it returns the totals when it ended.
func (p *prover) spawn() totals {
	lastLine := p.start
	for {
		now := time.Now()
		t := p.rec.totals()
		progress := p.progressOf(&t)
		elapsed := now.Sub(p.start).Seconds()
		p.r.Tasks = progress
		if progress > p.o.tasks {
			p.r.Tasks = p.o.tasks
		}
		p.r.SpawnRate = num(float64(t.spawned) / math.Max(elapsed, 1e-9))
		switch s, interrupted := p.stopSignal(); {
		case progress >= p.o.tasks:
			p.r.Reached = true
			p.r.Tasks = progress
			p.r.TimeToTarget = num(elapsed)
			return t
		case !now.Before(p.deadline):
			p.stop(fmt.Sprintf("time limit: reached %s of %s tasks in %g s", groupDigits(progress),
				groupDigits(p.o.tasks), p.o.duration.Seconds()))
			return t
		case interrupted:
			p.stop(fmt.Sprintf("interrupted by %s: reached %s of %s tasks in %.1f s", s,
				groupDigits(progress), groupDigits(p.o.tasks), elapsed))
			return t
		}
		if now.Sub(lastLine) >= progressEvery {
			fmt.Fprintf(os.Stderr, "corostorm-go-peer: %s %s / %s  elapsed %.1f s\n", p.counted(),
				groupDigits(progress), groupDigits(p.o.tasks), elapsed)
			lastLine = now
		}
		time.Sleep(spawnPoll)
	}
}

// measure is phase 2: min(5 s, time left) after reaching the target; it
// returns the totals at the end of the window (`reached` when there is none).
func (p *prover) measure(reached totals) totals {
	reachedAt := time.Now()
	windowEnd := reachedAt.Add(measureWindow)
	if p.deadline.Before(windowEnd) {
		windowEnd = p.deadline
	}
	if !windowEnd.After(reachedAt) {
		p.r.MeasureSeconds = num(0) // reached at the time limit: nothing left to measure with
		return reached
	}
	fmt.Fprintf(os.Stderr, "corostorm-go-peer: reached %s %s in %.3f s; measuring for %.1f s\n",
		groupDigits(p.r.Tasks), p.counted(), *p.r.TimeToTarget, windowEnd.Sub(reachedAt).Seconds())
	before, cpuBefore, t0 := p.rec.totals(), cpuSeconds(), time.Now()
	for now := t0; now.Before(windowEnd); now = time.Now() {
		if _, interrupted := p.stopSignal(); interrupted {
			break
		}
		d := windowEnd.Sub(now)
		if d > measurePoll {
			d = measurePoll
		}
		time.Sleep(d)
	}
	after, cpuAfter, t1 := p.rec.totals(), cpuSeconds(), time.Now()
	window := t1.Sub(t0).Seconds()
	if s, interrupted := p.stopSignal(); interrupted {
		p.stop(fmt.Sprintf("interrupted by %s while measuring, after %.1f s", s, window))
	}

	p.r.MeasureSeconds = num(window)
	resumes := after.resumes - before.resumes
	p.r.ResumesPerSecond = num(float64(resumes) / window)
	cpu := cpuAfter - cpuBefore // every thread: the garbage collector and sysmon too
	p.r.MeasureCPUSeconds = num(cpu)
	if resumes > 0 {
		p.r.CPUNsPerResume = num(cpu * 1e9 / float64(resumes))
	}
	if tree, ok := p.o.work.(*treeWorkload); ok {
		// Every node but the root finishes once per tree.
		if finished := after.completedTotal() - before.completedTotal(); finished > 0 {
			p.r.SecondsPerTree = num(window * float64(tree.tasks-1) / float64(finished))
		}
	}
	for src, name := range sourceNames {
		d := after.latency[src].minus(before.latency[src])
		if l, ok := summarize(&d); ok {
			p.r.Latency[name] = l
		}
	}
	d := after.roundTrip.minus(before.roundTrip)
	if l, ok := summarize(&d); ok {
		p.r.IORoundTrip = &l
	}
	return after
}

// print is phase 3: the report on stdout; returns the exit code.
func (p *prover) print() int {
	if p.o.json {
		out, err := json.MarshalIndent(&p.r, "", "  ")
		if err != nil {
			fmt.Fprintf(os.Stderr, "corostorm-go-peer: %v\n", err)
			return 1
		}
		if _, err := fmt.Printf("%s\n", out); err != nil {
			return 1
		}
	} else if _, err := fmt.Print(p.r.table()); err != nil {
		return 1
	}
	if p.r.Reached && p.r.Reason == nil {
		return 0
	}
	return 1
}
