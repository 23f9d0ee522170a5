// The command line: flags as corostorm spells them (counts like 100k or 10M,
// durations like 250ms or 30s), checked against corostorm's ranges. A bad
// flag is an error that names the flag, what is allowed and what was given.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/big"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func badFlag(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

type options struct {
	prove    bool
	json     bool
	listen   string
	tasks    uint64
	ramp     time.Duration
	work     workload
	threads  int // GOMAXPROCS
	duration time.Duration
}

const (
	maxTasks    = 10_000_000_000 // as corostorm's scenario.stages[].tasks
	maxTreeSize = 1_000_000_000
	day         = 24 * time.Hour
)

var countUnits = []struct {
	suffix string
	factor uint64
}{{"G", 1_000_000_000}, {"M", 1_000_000}, {"k", 1_000}, {"", 1}}

// parseCount reads 1000, 1k, 2.5M, 10G (decimal factors, a whole result).
func parseCount(s string) (uint64, bool) {
	for _, u := range countUnits {
		num, ok := cutSuffix(s, u.suffix)
		if !ok || num == "" || strings.HasPrefix(num, "-") || strings.HasPrefix(num, "+") {
			continue
		}
		if u.factor == 1 {
			n, err := strconv.ParseUint(num, 10, 64)
			return n, err == nil
		}
		return scaled(num, u.factor)
	}
	return 0, false
}

var durationUnits = []struct {
	suffix string
	factor uint64
}{{"ns", 1}, {"us", 1_000}, {"ms", 1_000_000}, {"s", 1_000_000_000}, {"m", 60_000_000_000},
	{"h", 3_600_000_000_000}, {"d", 86_400_000_000_000}}

// parseDuration reads 500us, 250ms, 30s, 5m, 1h, 1d (a unit is required).
func parseDuration(s string) (time.Duration, bool) {
	for _, u := range durationUnits {
		num, ok := cutSuffix(s, u.suffix)
		if !ok || num == "" || strings.ContainsAny(num, "abcdefghijklmnopqrstuvwxyz+-") {
			continue
		}
		n, ok := scaled(num, u.factor)
		if !ok || n > math.MaxInt64 {
			return 0, false
		}
		return time.Duration(n), true
	}
	return 0, false
}

// scaled is DIGITS[.DIGITS] times factor, when that is a whole number that
// fits in 64 bits.
func scaled(num string, factor uint64) (uint64, bool) {
	whole, frac, _ := strings.Cut(num, ".")
	if whole == "" || strings.Trim(whole+frac, "0123456789") != "" || strings.HasSuffix(num, ".") {
		return 0, false
	}
	digits, ok := new(big.Int).SetString(whole+frac, 10)
	if !ok {
		return 0, false
	}
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
	value, rest := new(big.Int).QuoRem(digits.Mul(digits, new(big.Int).SetUint64(factor)), scale, new(big.Int))
	if rest.Sign() != 0 || !value.IsUint64() {
		return 0, false
	}
	return value.Uint64(), true
}

// cutSuffix is strings.CutSuffix, which Go 1.19 does not have yet.
func cutSuffix(s, suffix string) (string, bool) {
	if !strings.HasSuffix(s, suffix) {
		return s, false
	}
	return s[:len(s)-len(suffix)], true
}

func countFlag(name, text string, lo, hi uint64, example string) (uint64, error) {
	n, ok := parseCount(text)
	if !ok || n < lo || n > hi {
		return 0, badFlag("%s: must be a count between %s and %s (like %s), got %q",
			name, formatCount(lo), formatCount(hi), example, text)
	}
	return n, nil
}

func durationFlag(name, text string, lo, hi time.Duration, example string) (time.Duration, error) {
	d, ok := parseDuration(text)
	if !ok || d < lo || d > hi {
		return 0, badFlag("%s: must be a duration between %s and %s (like %s), got %q",
			name, formatDuration(lo), formatDuration(hi), example, text)
	}
	return d, nil
}

func formatCount(n uint64) string {
	for _, u := range countUnits {
		if n != 0 && n%u.factor == 0 {
			return strconv.FormatUint(n/u.factor, 10) + u.suffix
		}
	}
	return "0"
}

func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	for i := len(durationUnits) - 1; i >= 0; i-- {
		u := durationUnits[i]
		if uint64(d)%u.factor == 0 {
			return strconv.FormatUint(uint64(d)/u.factor, 10) + u.suffix
		}
	}
	return d.String()
}

const usageText = `usage: corostorm-go-peer [--prove [--json]] --tasks N [options]

corostorm's workloads as goroutines, to put Go beside corostorm's engines.
Serve mode (the default) reaches --tasks over --ramp, holds until SIGTERM or
SIGINT and serves GET /metrics (corostorm's metric names, engine="go") and
GET /healthz on --listen. --prove spawns --tasks as fast as it can, measures
for up to 5 s after reaching them and prints a report (--json: one JSON
object with the keys of "corostorm prove --json"), then exits.

options:
  --tasks N          tasks to reach, 1 .. 10G, like 100k or 10M (required)
  --workload KIND    sleep (default), yield, ring, spawn_tree, echo, rpc
  --threads N        GOMAXPROCS, 0 .. 1024; 0 = the CPUs available (default)
  --listen HOST:PORT serve mode: where to serve (default 127.0.0.1:9465; port 0 = any free port)
  --ramp DURATION    serve mode: reach --tasks linearly over this, 0s .. 1d (default 0s)
  --prove            one-shot run and report instead of serving
  --json             prove: the report as one JSON object
  --duration D       prove: time limit to reach the target and measure, 1s .. 1d (default 30s)
  --period D         sleep, echo, rpc: period, 1ms .. 1d (default 1s; echo 10s)
  --rounds N         sleep, yield: wake-ups before a task ends, 0 = forever (default 0)
  --ring-size N      ring: goroutines per ring, 2 .. 1M (default 100)
  --fanout N         spawn_tree: children per node, 1 .. 1000 (default 10)
  --depth N          spawn_tree: levels below the root, 1 .. 20 (default 6)
  --message N        echo, rpc: bytes per request, echo 1 .. 65536, rpc 16 .. 65536 (default 64)
  --connections N    rpc: shared loopback connections, 1 .. 1024 (default 16)
  --version          print the version and exit

Exit codes: 0 ok (prove: target reached and measured), 1 not reached or a
runtime failure, 2 bad flags.
`

var errHelp = errors.New("help")
var errVersion = errors.New("version")

func parseOptions(args []string) (options, error) {
	fs := flag.NewFlagSet("corostorm-go-peer", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		o                               options
		tasks, threads, workloadName    string
		ramp, duration, period          string
		rounds, ringSize, fanout, depth string
		message, connections            string
		showVersion                     bool
	)
	fs.BoolVar(&o.prove, "prove", false, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&showVersion, "version", false, "")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9465", "")
	fs.StringVar(&tasks, "tasks", "", "")
	fs.StringVar(&workloadName, "workload", "sleep", "")
	fs.StringVar(&threads, "threads", "0", "")
	fs.StringVar(&ramp, "ramp", "0s", "")
	fs.StringVar(&duration, "duration", "30s", "")
	fs.StringVar(&period, "period", "", "") // the default depends on the workload
	fs.StringVar(&rounds, "rounds", "0", "")
	fs.StringVar(&ringSize, "ring-size", "100", "")
	fs.StringVar(&fanout, "fanout", "10", "")
	fs.StringVar(&depth, "depth", "6", "")
	fs.StringVar(&message, "message", "64", "")
	fs.StringVar(&connections, "connections", "16", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, errHelp
		}
		return o, usageError{err.Error()}
	}
	if showVersion {
		return o, errVersion
	}
	if fs.NArg() > 0 {
		return o, badFlag("unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}
	if tasks == "" {
		return o, badFlag("--tasks: required, a count between 1 and 10G (like 100k or 10M)")
	}
	var err error
	if o.tasks, err = countFlag("--tasks", tasks, 1, maxTasks, "100k or 10M"); err != nil {
		return o, err
	}
	n, err := strconv.ParseUint(threads, 10, 32)
	if err != nil || n > 1024 {
		return o, badFlag("--threads: must be between 0 and 1024 (0 = the CPUs available to the process), got %q", threads)
	}
	o.threads = int(n)
	if o.threads == 0 {
		o.threads = availableCPUs()
	}
	if o.ramp, err = durationFlag("--ramp", ramp, 0, day, "30s"); err != nil {
		return o, err
	}
	if o.duration, err = durationFlag("--duration", duration, time.Second, day, "30s or 5m"); err != nil {
		return o, err
	}
	if o.work, err = parseWorkload(workloadName, workloadFlags{period, rounds, ringSize, fanout, depth,
		message, connections}); err != nil {
		return o, err
	}
	if unit := o.work.tasksPerUnit(); o.tasks%unit != 0 {
		below := o.tasks / unit * unit
		suggestion := formatCount(unit)
		if below > 0 {
			suggestion = fmt.Sprintf("%d or %d", below, below+unit)
		}
		return o, badFlag("--tasks: workload %s runs whole units of %d tasks; ask for a multiple of %d, e.g. %s, got %d",
			o.work.kind(), unit, unit, suggestion, o.tasks)
	}
	if o.json && !o.prove {
		return o, badFlag("--json: only with --prove")
	}
	runtime.GOMAXPROCS(o.threads)
	return o, nil
}

// workloadFlags: the workload flags as given; each workload reads its own.
type workloadFlags struct {
	period, rounds, ringSize, fanout, depth, message, connections string
}

const (
	maxMessage     = 65536
	minRPCMessage  = rpcHeader // a request carries its call id and send time
	maxConnections = 1024
)

func parseWorkload(name string, f workloadFlags) (workload, error) {
	roundsN, err := countFlag("--rounds", f.rounds, 0, 1_000_000_000_000, "0 or 100k")
	if err != nil && (name == "sleep" || name == "yield") {
		return nil, err
	}
	// --period: echo's round trips are rarer by default, as a connection that
	// is mostly idle is what a server holds millions of.
	periodFlag := func(byDefault string) (int64, error) {
		text := f.period
		if text == "" {
			text = byDefault
		}
		p, err := durationFlag("--period", text, time.Millisecond, day, "250ms or 1s")
		return int64(p), err
	}
	switch name {
	case "sleep":
		p, err := periodFlag("1s")
		if err != nil {
			return nil, err
		}
		return &sleepWorkload{periodNs: p, rounds: roundsN}, nil
	case "yield":
		return &yieldWorkload{rounds: roundsN}, nil
	case "echo":
		p, err := periodFlag("10s")
		if err != nil {
			return nil, err
		}
		size, err := countFlag("--message", f.message, 1, maxMessage, "64")
		if err != nil {
			return nil, err
		}
		return newEchoWorkload(p, int(size)), nil
	case "rpc":
		p, err := periodFlag("1s")
		if err != nil {
			return nil, err
		}
		size, err := countFlag("--message", f.message, minRPCMessage, maxMessage, "64")
		if err != nil {
			return nil, err
		}
		conns, err := countFlag("--connections", f.connections, 1, maxConnections, "16")
		if err != nil {
			return nil, err
		}
		return newRPCWorkload(p, int(size), int(conns)), nil
	case "ring":
		size, err := countFlag("--ring-size", f.ringSize, 2, 1_000_000, "100")
		if err != nil {
			return nil, err
		}
		return &ringWorkload{size: size}, nil
	case "spawn_tree":
		fan, err := countFlag("--fanout", f.fanout, 1, 1000, "10")
		if err != nil {
			return nil, err
		}
		d, err := countFlag("--depth", f.depth, 1, 20, "6")
		if err != nil {
			return nil, err
		}
		if treeTooBig(fan, d) {
			return nil, badFlag("--depth: a tree of fanout %d and depth %d has more than 1G tasks; lower --depth or --fanout", fan, d)
		}
		return newTreeWorkload(fan, d), nil
	}
	return nil, badFlag("--workload: must be one of sleep, yield, ring, spawn_tree, echo, rpc, got %q", name)
}

func treeTooBig(fanout, depth uint64) bool {
	total, level := uint64(0), uint64(1)
	for i := uint64(0); i <= depth; i++ {
		total += level
		if total > maxTreeSize {
			return true
		}
		level *= fanout
	}
	return false
}
