// Replaces lego's generated factory of DNS challenge providers in the Traefik this
// repository builds (see ../../../../go.mod and todo.cluster.builds).
//
// Lego's factory imports all of its 190-odd DNS providers, and with them the SDKs of as
// many clouds: a third of the source Traefik compiles, and a third of its cold build on
// two cores. The local cluster's Traefik serves plain HTTP on 127.0.0.1 and never asks a
// certificate authority for anything, so no DNS-01 challenge is ever solved: a
// certificate resolver configured with one fails at start-up with the reason below.
package dns

import (
	"fmt"

	"github.com/go-acme/lego/v4/challenge"
)

// NewDNSChallengeProviderByName has the signature of lego's factory, which Traefik's ACME
// provider calls.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf(
		"DNS challenge provider %q: this Traefik is built without lego's DNS providers "+
			"(the local cluster serves plain HTTP; see build-support/traefik)", name)
}
