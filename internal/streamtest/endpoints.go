package streamtest

import (
	"slices"
	"strings"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// CalledEndpoints are the API paths fake served, sorted, without the token endpoint and the
// SIEM file downloads (pre-signed URLs the batch listing hands out, which need no permission).
func CalledEndpoints(fake *mimecastfake.Server) []string {
	var out []string
	for p, n := range fake.Stats().Calls {
		if n > 0 && p != "/oauth/token" && !strings.HasPrefix(p, "/siem-files/") {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// EndpointsOf are the distinct endpoints of calls, in the order they first appear.
func EndpointsOf(calls []mimecast.Call) []string {
	var out []string
	for _, c := range calls {
		if !slices.Contains(out, c.Endpoint) {
			out = append(out, c.Endpoint)
		}
	}
	return out
}
