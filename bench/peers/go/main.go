// corostorm-go-peer: corostorm's workloads (sleep, yield, ring, spawn_tree,
// echo, rpc) as goroutines, with the same parameters and the same figures, so
// that a table can put a goroutine beside corostorm's lean and asio coroutines.
// `corostorm prove --against-go` and bench/compare run it; it also serves
// corostorm's metrics with engine="go" for a dashboard. See README.md here.
//
// Files: flags.go (command line), workloads.go and network.go (the
// goroutines), spawn.go (spawners and ramp), recorder.go (lock-free sharded
// recording), memory.go and process.go (probes), metrics.go (/metrics),
// serve.go, prove.go and report.go (the two modes).
package main

import (
	"errors"
	"fmt"
	"os"
)

// version: the corostorm version whose contract this peer mirrors, set at
// build time with -ldflags "-X main.version=X.Y.Z".
var version = "unknown"

// revision: the git commit it was built from, as corostorm_build_info{revision}
// says it; set at build time with -ldflags "-X main.revision=COMMIT".
var revision = "unknown"

func main() {
	o, err := parseOptions(os.Args[1:])
	switch {
	case errors.Is(err, errHelp):
		fmt.Print(usageText)
		os.Exit(0)
	case errors.Is(err, errVersion):
		fmt.Printf("corostorm-go-peer %s\n", version)
		os.Exit(0)
	case err != nil:
		fmt.Fprintf(os.Stderr, "corostorm-go-peer: %v\n", err)
		os.Exit(2)
	}
	if o.prove {
		os.Exit(prove(o))
	}
	os.Exit(serve(o))
}
