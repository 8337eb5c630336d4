//go:build tools

// The program this module builds (`go build github.com/traefik/traefik/v3/cmd/traefik`),
// named here so that `go mod tidy` keeps its requirements.
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
