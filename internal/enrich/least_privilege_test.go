package enrich

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// Least privilege: the tracking and message_info lookups need Message Finder alone, and
// content needs Archive and Content View on top. TestEnrichForbiddenFailFlagsTheEventNamingThePermission
// and TestEnrichContentForbiddenSkipKeepsTheTracking cover the permission named on a 403.
func TestEnrichWorksWithOnlyTheProductsItsLookupsNeed(t *testing.T) {
	cases := []struct {
		name     string
		products []string
		lookups  string
		keys     []string
	}{
		{"tracking and message_info: Message Finder only", []string{mimecastfake.ProductTracking}, "[tracking, message_info]", []string{"tracking", "message_info"}},
		{"content: plus Archive and Content View", []string{mimecastfake.ProductTracking, mimecastfake.ProductArchive, mimecastfake.ProductContentView}, "[tracking, content]", []string{"tracking", "content"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := mimecastfake.Options{Seed: 1, Clients: []mimecastfake.ClientApp{
				{ID: "least", Secret: "least-secret", Products: tc.products},
				{ID: mimecastfake.DefaultClientID, Secret: mimecastfake.DefaultClientSecret}, // finds message ids
			}}
			fake, url := fakeTenant(t, opts, nil)
			id := archivedMessageID(t, fake, url, mimecastfake.DefaultClientID, mimecastfake.DefaultClientSecret)
			p := newEnrichAs(t, connYAML(url, "least", "least-secret")+"lookups: "+tc.lookups+"\non_forbidden: fail\n")
			res := resultOf(t, process(t, p, event(id))[0])
			assert.Equal(t, true, res["found"])
			for _, k := range tc.keys {
				assert.Contains(t, res, k)
			}
			for _, st := range fake.Stats().EndpointStatuses {
				assert.NotContains(t, st, 403, "no call outside the granted products")
			}
			require.NotContains(t, res, "skipped")
		})
	}
}
