// The Dapr scheduler service (Jobs API backend, embedded etcd), exactly as Dapr ships it.
package main

import (
	"github.com/dapr/dapr/cmd/scheduler/app"
)

func main() {
	app.Run()
}
