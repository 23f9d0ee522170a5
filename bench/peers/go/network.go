// The network workloads, echo and rpc: goroutines that wait on loopback TCP
// sockets through Go's netpoller instead of on a timer or a channel, written
// the way Go programs usually are (a goroutine per connection; net/rpc's
// client), so that what a blocked-on-I/O goroutine costs can be put beside
// corostorm's coroutines doing the same.
//
//   - echo: a unit is one connection and two goroutines, the client and the
//     server's handler. The client wakes every period, writes --message
//     bytes of 'c', reads them back and checks them; the handler echoes
//     whatever arrives. Records per wake-up: a resume and source=timer
//     lateness, as sleep; per round trip: io_round_trip (write to read).
//   - rpc: a goroutine is one caller over --connections shared connections.
//     Every period it sends a request (call id, send time, 'c's) and blocks
//     on its call's done channel until the connection's reader goroutine
//     delivers the reply. Records per reply: a resume, io_round_trip (send
//     time to reply received) and source=io (delivered to running).
//
// Every address is 127.0.0.1. Listeners and rpc's connections are opened by
// start, before the memory baselines: they are infrastructure, not tasks.
// An I/O failure (EMFILE included) ends the goroutine it happened to with
// outcome error and a line on stderr (at most one a second); it never ends
// the process.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	loopback      = "127.0.0.1:0"
	echoListeners = 4 // connections spread over them: 4x the ephemeral ports
	// dialTimeout bounds a spawn: a full accept backlog drops SYNs, and the
	// spawner must not wait for the kernel's retries forever.
	dialTimeout   = 5 * time.Second
	acceptBackoff = 10 * time.Millisecond
	rpcHeader     = 16        // call id and send time, both uint64 little endian
	rpcBuffer     = 64 << 10  // bufio sizes on both sides of an rpc connection
	payloadByte   = byte('c') // every byte that is not a header
)

// starter is a workload with infrastructure to set up before the first spawn.
type starter interface {
	start(rec *recorder) error
}

// stopper is a workload with something to release as soon as the drain starts.
type stopper interface {
	stop()
}

// warnDescriptors says at start when echo's target cannot be held: every task
// holds one connection end. Past RLIMIT_NOFILE dials and accepts fail with
// EMFILE, and a client whose connection waits in the backlog for an accept
// that cannot happen waits until the drain closes the listeners.
func warnDescriptors(w workload, tasks uint64) {
	if _, ok := w.(*echoWorkload); !ok {
		return
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return
	}
	if open := openFDs(); tasks+open > lim.Cur {
		fmt.Fprintf(os.Stderr, "corostorm-go-peer: warning: %d echo tasks hold %d descriptors besides the %d open, "+
			"over the limit of %d (RLIMIT_NOFILE): dials and accepts will fail with EMFILE\n", tasks, tasks, open, lim.Cur)
	}
}

func usesSockets(w workload) bool {
	switch w.(type) {
	case *echoWorkload, *rpcWorkload:
		return true
	}
	return false
}

func payload(n int) []byte { return bytes.Repeat([]byte{payloadByte}, n) }

// ---- failures ----

var failureLog struct {
	sync.Mutex
	last       time.Time
	suppressed uint64
}

// ioFailed writes one line on stderr, at most one a second: with the
// descriptors exhausted every dial and accept fails, and the log must not
// become the workload.
func ioFailed(what string, err error) {
	failureLog.Lock()
	defer failureLog.Unlock()
	now := time.Now()
	if now.Sub(failureLog.last) < time.Second {
		failureLog.suppressed++
		return
	}
	more := ""
	if failureLog.suppressed > 0 {
		more = fmt.Sprintf(" (and %d more I/O failures since the last such line)", failureLog.suppressed)
	}
	fmt.Fprintf(os.Stderr, "corostorm-go-peer: %s: %v%s\n", what, err, more)
	failureLog.last, failureLog.suppressed = now, 0
}

// temporary: accept failures that pass once descriptors or memory free up.
func temporary(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ---- echo ----

type echoWorkload struct {
	periodNs  int64
	request   []byte // --message bytes of 'c', shared read-only by every client
	rec       *recorder
	listeners []net.Listener
	addrs     []string
	next      atomic.Uint32 // round-robin over addrs
}

func newEchoWorkload(periodNs int64, size int) *echoWorkload {
	return &echoWorkload{periodNs: periodNs, request: payload(size)}
}

func (*echoWorkload) kind() string         { return "echo" }
func (*echoWorkload) tasksPerUnit() uint64 { return 2 }

func (w *echoWorkload) start(rec *recorder) error {
	w.rec = rec
	for i := 0; i < echoListeners; i++ {
		ln, err := net.Listen("tcp", loopback)
		if err != nil {
			return fmt.Errorf("echo: listen on %s: %w", loopback, err)
		}
		w.listeners = append(w.listeners, ln)
		w.addrs = append(w.addrs, ln.Addr().String())
		go w.acceptLoop(ln, uint32(i))
	}
	return nil
}

// stop closes the listeners: the kernel resets the connections still waiting
// in their backlogs, so that no client waits through the drain for a handler
// that was never accepted (with descriptors exhausted, none can be).
func (w *echoWorkload) stop() {
	for _, ln := range w.listeners {
		ln.Close()
	}
}

// acceptLoop starts a handler goroutine per connection. A failed accept is a
// handler that could not start: counted as spawned and ended with outcome
// error. The connection waits in the backlog and the loop tries again.
func (w *echoWorkload) acceptLoop(ln net.Listener, slot uint32) {
	for ; ; slot += echoListeners {
		e := env{w.rec, slot}
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		e.shard().spawned.Add(1)
		if err != nil {
			e.finish(outcomeError)
			ioFailed("echo: accept on "+ln.Addr().String(), err)
			if !temporary(err) {
				return
			}
			time.Sleep(acceptBackoff)
			continue
		}
		go echoHandler(e, conn, len(w.request))
	}
}

func echoHandler(e env, conn net.Conn, size int) { e.finish(echoServe(conn, size)) }

// echoServe writes back whatever arrives until the client closes (its unit
// retires: outcome cancelled) or the connection fails (outcome error).
func echoServe(conn net.Conn, size int) outcome {
	defer conn.Close()
	buf := make([]byte, size)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if _, werr := conn.Write(buf[:n]); werr != nil {
				ioFailed("echo server: write", werr)
				return outcomeError
			}
		}
		if errors.Is(err, io.EOF) {
			return outcomeCancelled
		}
		if err != nil {
			ioFailed("echo server: read", err)
			return outcomeError
		}
	}
}

// spawnUnit dials in the spawner, so that the spawn rate includes connecting;
// a failed dial is the client's outcome error, and the handler never exists.
func (w *echoWorkload) spawnUnit(parent *shard, e env, rnd *rand.Rand) {
	phase := rnd.Int63n(w.periodNs)
	addr := w.addrs[w.next.Add(1)%echoListeners]
	parent.spawned.Add(1)
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		e.finish(outcomeError)
		ioFailed("echo: dial "+addr, err)
		return
	}
	w.rec.connections.Add(1)
	go echoClient(e, w, conn, nowNs()+phase)
}

func echoClient(e env, w *echoWorkload, conn net.Conn, deadline int64) {
	o := echoLoop(e, w, conn, deadline)
	conn.Close() // the handler reads EOF and ends too
	w.rec.connections.Add(-1)
	e.finish(o)
}

func echoLoop(e env, w *echoWorkload, conn net.Conn, deadline int64) outcome {
	sh := e.shard()
	reply := make([]byte, len(w.request))
	for {
		if d := deadline - nowNs(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		// As sleep: a late wake-up does not sleep and its lateness counts.
		sh.resumes.Add(1)
		sh.latency[sourceTimer].record(nowNs() - deadline)
		if retiring.Load() {
			return outcomeCancelled
		}
		sent := nowNs()
		if _, err := conn.Write(w.request); err != nil {
			ioFailed("echo client: write", err)
			return outcomeError
		}
		if _, err := io.ReadFull(conn, reply); err != nil {
			ioFailed("echo client: read", err)
			return outcomeError
		}
		received := nowNs()
		if !bytes.Equal(reply, w.request) {
			ioFailed("echo client", errors.New("the reply is not the bytes sent"))
			return outcomeError
		}
		sh.roundTrip.record(received - sent)
		deadline += w.periodNs
	}
}

// ---- rpc ----

type rpcWorkload struct {
	periodNs int64
	size     int
	conns    int
	tail     []byte // the request's bytes after the header: 'c's, read-only
	clients  []*rpcClient
	next     atomic.Uint32 // round-robin over clients
}

func newRPCWorkload(periodNs int64, size, conns int) *rpcWorkload {
	return &rpcWorkload{periodNs: periodNs, size: size, conns: conns, tail: payload(size - rpcHeader)}
}

func (*rpcWorkload) kind() string         { return "rpc" }
func (*rpcWorkload) tasksPerUnit() uint64 { return 1 }

// call is one outstanding request, net/rpc's Call: the reader fills it in and
// sends it on done. A caller has one and reuses it, since it waits for each
// reply before its next request; the comparison is about waiting on I/O, not
// about the allocator.
type call struct {
	sentNs      int64 // the send time, read back from the reply
	deliveredNs int64 // when the reader handed the reply over
	err         error
	done        chan *call // capacity 1, as net/rpc's: the reader never blocks on it
}

// rpcClient is the client side of one shared connection, as net/rpc's
// Client: callers write their requests themselves under `sending` (net/rpc's
// reqMutex) and flush each, and one reader goroutine delivers the replies.
type rpcClient struct {
	rec     *recorder
	index   uint64 // ids are seq*stride + index: unique over every connection
	stride  uint64
	sending sync.Mutex // one request at a time into w
	w       *bufio.Writer

	mu      sync.Mutex // guards what follows
	seq     uint64
	pending map[uint64]*call
	broken  error // once set, every call fails at once
}

// start opens the shared connections: each is a client (callers write, a
// reader goroutine reads) and a server goroutine that echoes requests.
func (w *rpcWorkload) start(rec *recorder) error {
	ln, err := net.Listen("tcp", loopback)
	if err != nil {
		return fmt.Errorf("rpc: listen on %s: %w", loopback, err)
	}
	defer ln.Close() // every connection is accepted before start returns
	for i := 0; i < w.conns; i++ {
		client, err := net.DialTimeout("tcp", ln.Addr().String(), dialTimeout)
		if err != nil {
			return fmt.Errorf("rpc: connection %d of %d: dial %s: %w", i+1, w.conns, ln.Addr(), err)
		}
		_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(dialTimeout))
		server, err := ln.Accept()
		if err != nil {
			client.Close()
			return fmt.Errorf("rpc: connection %d of %d: accept: %w", i+1, w.conns, err)
		}
		go rpcServe(server, w.size)
		c := &rpcClient{rec: rec, index: uint64(i), stride: uint64(w.conns),
			w: bufio.NewWriterSize(client, rpcBuffer), pending: map[uint64]*call{}}
		w.clients = append(w.clients, c)
		rec.connections.Add(1)
		go c.readLoop(client, w.size, w.tail)
	}
	return nil
}

// rpcServe writes every request back unchanged. It flushes only when no
// whole request is buffered: replies to a burst leave in one write, and a
// reply never waits for a request that has not fully arrived.
func rpcServe(conn net.Conn, size int) {
	defer conn.Close()
	r := bufio.NewReaderSize(conn, rpcBuffer)
	w := bufio.NewWriterSize(conn, rpcBuffer)
	buf := make([]byte, size)
	for {
		if _, err := io.ReadFull(r, buf); err != nil {
			if !errors.Is(err, io.EOF) {
				ioFailed("rpc server: read", err)
			}
			return
		}
		if _, err := w.Write(buf); err != nil {
			ioFailed("rpc server: write", err)
			return
		}
		if r.Buffered() < size {
			if err := w.Flush(); err != nil {
				ioFailed("rpc server: write", err)
				return
			}
		}
	}
}

// readLoop delivers each reply to its caller; on a read error or a reply to
// no call the connection is broken and every call on it fails.
func (c *rpcClient) readLoop(conn net.Conn, size int, tail []byte) {
	r := bufio.NewReaderSize(conn, rpcBuffer)
	buf := make([]byte, size)
	var err error
	for {
		if _, err = io.ReadFull(r, buf); err != nil {
			break
		}
		id := binary.LittleEndian.Uint64(buf[0:8])
		c.mu.Lock()
		cl := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if cl == nil {
			err = fmt.Errorf("a reply to call %d, which is not pending", id)
			break
		}
		cl.err = nil
		if !bytes.Equal(buf[rpcHeader:], tail) {
			cl.err = errors.New("the reply's payload is not the request's")
		}
		cl.sentNs = int64(binary.LittleEndian.Uint64(buf[8:16]))
		cl.deliveredNs = nowNs()
		cl.done <- cl
	}
	conn.Close()
	c.fail(fmt.Errorf("rpc client: read: %w", err))
}

// fail breaks the connection (once) and fails every pending call.
func (c *rpcClient) fail(err error) {
	c.mu.Lock()
	first := c.broken == nil
	if first {
		c.broken = err
	}
	pending := c.pending
	c.pending = map[uint64]*call{}
	c.mu.Unlock()
	if first {
		c.rec.connections.Add(-1)
		ioFailed("rpc", err)
	}
	for _, cl := range pending {
		cl.err = err
		cl.done <- cl
	}
}

// send registers cl and writes its request, as net/rpc's Client.send: under
// the sending mutex, flushed at once. Whatever happens, cl comes back on
// cl.done exactly once.
func (c *rpcClient) send(tail []byte, cl *call) {
	var header [rpcHeader]byte
	// Stamped before waiting for the connection: the round trip includes
	// the queue behind other callers on it, as a caller sees it.
	binary.LittleEndian.PutUint64(header[8:16], uint64(nowNs()))
	c.sending.Lock()
	defer c.sending.Unlock()
	c.mu.Lock()
	if c.broken != nil {
		cl.err = c.broken
		c.mu.Unlock()
		cl.done <- cl
		return
	}
	id := c.seq*c.stride + c.index
	c.seq++
	c.pending[id] = cl
	c.mu.Unlock()
	binary.LittleEndian.PutUint64(header[0:8], id)
	_, err := c.w.Write(header[:])
	if err == nil {
		_, err = c.w.Write(tail)
	}
	if err == nil {
		err = c.w.Flush()
	}
	if err == nil {
		return
	}
	// The reader may have failed the call already; if not, fail it here.
	c.mu.Lock()
	mine := c.pending[id] == cl
	delete(c.pending, id)
	c.mu.Unlock()
	if mine {
		cl.err = fmt.Errorf("rpc client: write: %w", err)
		cl.done <- cl
	}
}

func (w *rpcWorkload) spawnUnit(parent *shard, e env, rnd *rand.Rand) {
	phase := rnd.Int63n(w.periodNs)
	c := w.clients[w.next.Add(1)%uint32(len(w.clients))]
	parent.spawned.Add(1)
	go rpcCaller(e, w, c, nowNs()+phase)
}

func rpcCaller(e env, w *rpcWorkload, c *rpcClient, deadline int64) {
	e.finish(callLoop(e, w, c, deadline))
}

func callLoop(e env, w *rpcWorkload, c *rpcClient, deadline int64) outcome {
	sh := e.shard()
	cl := &call{done: make(chan *call, 1)}
	for {
		if d := deadline - nowNs(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		if retiring.Load() {
			return outcomeCancelled
		}
		c.send(w.tail, cl)
		<-cl.done
		now := nowNs()
		if cl.err != nil {
			ioFailed("rpc caller", cl.err)
			return outcomeError
		}
		sh.resumes.Add(1)
		sh.roundTrip.record(now - cl.sentNs)
		sh.latency[sourceIO].record(now - cl.deliveredNs)
		deadline += w.periodNs // the schedule, as sleep: a late caller catches up
	}
}
