// registry: the CNCF distribution registry v3.0.0 with only the filesystem storage driver
// (the images' registry on 127.0.0.1, see todo.cluster.registry). Its own main also links
// the cloud storage drivers (S3, Azure, GCS) and their SDKs, which this one does not need.
package main

import (
	"os"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

func main() {
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
