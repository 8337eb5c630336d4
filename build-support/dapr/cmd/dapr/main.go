// dapr: Todo Cloud's Dapr 1.16.0 in one binary, chosen by the name it is called by
// (a link daprd -> dapr) or by its first argument (`dapr scheduler --help`):
//
//	daprd      the sidecar, with only the components in internal/daprd/components.go
//	scheduler  the Jobs API backend (embedded etcd)
//	operator, placement, sentry, injector   the rest of the Kubernetes control plane
//
// Each one is Dapr's own cmd/<name>/app.Run(), unchanged. One binary links the code they
// share once: one link step instead of six, and every Dapr image carries the same file.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	injector "github.com/dapr/dapr/cmd/injector/app"
	operator "github.com/dapr/dapr/cmd/operator/app"
	placement "github.com/dapr/dapr/cmd/placement/app"
	scheduler "github.com/dapr/dapr/cmd/scheduler/app"
	sentry "github.com/dapr/dapr/cmd/sentry/app"

	"todo-cloud/dapr-build/internal/daprd"
)

var programs = map[string]func(){
	"daprd":     daprd.Run,
	"scheduler": scheduler.Run,
	"operator":  operator.Run,
	"placement": placement.Run,
	"sentry":    sentry.Run,
	"injector":  injector.Run,
}

func names() string {
	all := make([]string, 0, len(programs))
	for name := range programs {
		all = append(all, name)
	}
	sort.Strings(all)
	return strings.Join(all, ", ")
}

func main() {
	run, known := programs[filepath.Base(os.Args[0])]
	if !known {
		if len(os.Args) < 2 {
			fmt.Fprintf(os.Stderr, "usage: %s <program> [flags]; programs: %s\n", os.Args[0], names())
			os.Exit(2)
		}
		run, known = programs[os.Args[1]]
		if !known {
			fmt.Fprintf(os.Stderr, "unknown program %q; programs: %s\n", os.Args[1], names())
			os.Exit(2)
		}
		// Each program parses os.Args[1:] as its own flags.
		os.Args = os.Args[1:]
	}
	run()
}
