// The components this daprd can load: exactly the ones Todo Cloud's resources use.
//
// Each init() below is copied from github.com/dapr/dapr@v1.16.0 cmd/daprd/components/<file>.go
// (Apache-2.0, Copyright The Dapr Authors). To support another component type, copy its file's
// registration the same way; a component whose type is not registered fails to load at startup
// ("couldn't find ... in the registry").
package daprd

import (
	nrKubernetes "github.com/dapr/components-contrib/nameresolution/kubernetes"
	"github.com/dapr/components-contrib/nameresolution/sqlite"
	"github.com/dapr/components-contrib/pubsub/kafka"
	secretsKubernetes "github.com/dapr/components-contrib/secretstores/kubernetes"
	"github.com/dapr/components-contrib/secretstores/local/env"
	"github.com/dapr/components-contrib/secretstores/local/file"
	inmemory "github.com/dapr/components-contrib/state/in-memory"
	pgv1 "github.com/dapr/components-contrib/state/postgresql/v1"
	pgv2 "github.com/dapr/components-contrib/state/postgresql/v2"
	"github.com/dapr/dapr/pkg/components"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
	pubsubLoader "github.com/dapr/dapr/pkg/components/pubsub"
	secretstoresLoader "github.com/dapr/dapr/pkg/components/secretstores"
	stateLoader "github.com/dapr/dapr/pkg/components/state"
)

// pubsub_kafka.go: type pubsub.kafka
func init() {
	pubsubLoader.DefaultRegistry.RegisterComponent(kafka.NewKafka, "kafka")
}

// state_postgres.go (the postgres/postgresql names; yugabyte ones left out): type
// state.postgresql, "version: v2" selects the v2 store, an empty version or "v1" the v1 store.
func init() {
	for _, name := range []string{"postgres", "postgresql"} {
		stateLoader.DefaultRegistry.RegisterComponentWithVersions(name, components.Versioning{
			Preferred: components.VersionConstructor{
				Version: "v2", Constructor: pgv2.NewPostgreSQLStateStore,
			},
			Others: []components.VersionConstructor{
				{Version: "v1", Constructor: pgv1.NewPostgreSQLStateStore},
			},
			Default: "v1",
		})
	}
}

// state_in-memory.go: type state.in-memory
func init() {
	stateLoader.DefaultRegistry.RegisterComponent(inmemory.NewInMemoryStateStore, "in-memory")
}

// secretstores_local_file.go: type secretstores.local.file
func init() {
	secretstoresLoader.DefaultRegistry.RegisterComponent(file.NewLocalSecretStore, "local.file")
}

// secretstores_local_env.go: type secretstores.local.env
func init() {
	secretstoresLoader.DefaultRegistry.RegisterComponent(env.NewEnvSecretStore, "local.env")
}

// secretstores_kubernetes.go: type secretstores.kubernetes (todo-secrets in a cluster, and
// the store daprd adds by itself in Kubernetes mode).
func init() {
	secretstoresLoader.DefaultRegistry.RegisterComponent(secretsKubernetes.NewKubernetesSecretStore, "kubernetes")
}

// nameresolution_kubernetes.go: service invocation by Kubernetes DNS, daprd's default in a
// cluster.
func init() {
	nrLoader.DefaultRegistry.RegisterComponent(nrKubernetes.NewResolver, "kubernetes")
}

// nameresolution_sqlite.go: name resolution "sqlite", for service invocation between
// sidecars on one machine through a shared database file (mDNS would multicast).
func init() {
	nrLoader.DefaultRegistry.RegisterComponent(sqlite.NewResolver, "sqlite")
}
