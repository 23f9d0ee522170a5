// Serve mode: reach --tasks over --ramp, hold until SIGTERM or SIGINT, and
// serve GET /metrics and /healthz on --listen meanwhile.
//
// Design note (lifetime). The listener is bound before the first spawn, so a
// bad address fails fast; then the workload's infrastructure is set up (echo's
// listeners, rpc's connections), and the memory baselines are taken after
// both and before the first spawn. The HTTP server runs on goroutines like
// everything else: Go has no thread of its own to give it, so a busy
// scheduler delays scrapes.
// Shutdown: the first signal sets `retiring` and the target to 0 (and closes
// echo's listeners); every goroutine ends at its next wake-up (an rpc caller
// after its reply) and the process exits 0 once none is alive (at most 30 s,
// then 1). A second signal exits 1 at once.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	drainTimeout    = 30 * time.Second
	heartbeatPeriod = 100 * time.Millisecond
	healthyWithin   = 5 * time.Second
)

func serve(o options) int {
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "corostorm-go-peer: --listen %s: %v\n", o.listen, err)
		return 1
	}
	rec := newRecorder(o.threads)
	if s, ok := o.work.(starter); ok {
		if err := s.start(rec); err != nil {
			fmt.Fprintf(os.Stderr, "corostorm-go-peer: %v\n", err)
			return 1
		}
	}
	warnDescriptors(o.work, o.tasks)
	base := takeBaselines()
	fdsBefore := openFDs()
	start := time.Now()
	units := o.tasks / o.work.tasksPerUnit()
	targetNow := func() uint64 {
		if retiring.Load() {
			return 0
		}
		return rampTarget(units, time.Since(start), o.ramp) * o.work.tasksPerUnit()
	}
	src := &metricsSource{rec: rec, kind: o.work.kind(), network: usesSockets(o.work), base: base,
		targetNow: targetNow}

	// The heartbeat is a goroutine like the workload's: /healthz fails when
	// the scheduler stops running goroutines for healthyWithin.
	var heartbeat atomic.Int64
	heartbeat.Store(nowNs())
	go func() {
		for {
			time.Sleep(heartbeatPeriod)
			heartbeat.Store(nowNs())
		}
	}()

	server := &http.Server{Handler: handler(src, &heartbeat), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "corostorm-go-peer: serving: %v\n", err)
			os.Exit(1)
		}
	}()
	fmt.Fprintf(os.Stderr, "corostorm-go-peer: %d %s tasks (engine go, GOMAXPROCS %d) over %s; serving /metrics /healthz on %s\n",
		o.tasks, o.work.kind(), o.threads, formatDuration(o.ramp), ln.Addr())

	startSpawners(rec, o.work, units, o.threads, o.ramp)

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	sig := <-signals
	fmt.Fprintf(os.Stderr, "corostorm-go-peer: %v: draining %d goroutines\n", sig, func() uint64 { t := rec.totals(); return t.live() }())
	go func() {
		<-signals
		fmt.Fprintln(os.Stderr, "corostorm-go-peer: second signal, exiting without draining")
		os.Exit(1)
	}()
	retiring.Store(true)
	if s, ok := o.work.(stopper); ok {
		s.stop()
	}
	deadline := time.Now().Add(drainTimeout)
	code := 0
	for {
		t := rec.totals()
		if t.live() == 0 {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "corostorm-go-peer: %d goroutines still alive after %s\n", t.live(), drainTimeout)
			code = 1
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = server.Shutdown(ctx)
	// The descriptors say whether the workload closed everything it opened.
	fmt.Fprintf(os.Stderr, "corostorm-go-peer: drained; %d fds open, %d before the first spawn\n", openFDs(), fdsBefore)
	return code
}

func handler(src *metricsSource, heartbeat *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch r.URL.Path {
		case "/metrics", "/healthz":
		default:
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/healthz" {
			if time.Duration(nowNs()-heartbeat.Load()) > healthyWithin {
				http.Error(w, "scheduler stalled", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintln(w, "ok")
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = writeMetrics(w, src)
	})
}
