package enrich

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// Endpoints is what `check` tests: every endpoint a lookup calls is on it.
func TestEndpointsListEveryEndpointTheLookupsCall(t *testing.T) {
	tests := []struct {
		lookups string
		want    []string
	}{
		{"[tracking]", []string{mimecast.PathMessageFinderSearch}},
		{"[message_info]", []string{mimecast.PathMessageFinderSearch, mimecast.PathMessageInfo}},
		{"[content]", mimecast.ArchivedContentEndpoints()},
		{"[content, tracking, message_info]", []string{mimecast.PathMessageFinderSearch, mimecast.PathMessageInfo,
			mimecast.PathArchiveSearch, mimecast.PathMessageDetail, mimecast.PathMessagePart}},
	}
	for _, tt := range tests {
		t.Run(tt.lookups, func(t *testing.T) {
			fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
			conf, err := Spec().ParseYAML(streamtest.ConnYAML(url)+"lookups: "+tt.lookups+"\n", nil)
			require.NoError(t, err)
			calls, err := Endpoints(conf)
			require.NoError(t, err)
			listed := streamtest.EndpointsOf(calls)
			assert.Equal(t, tt.want, listed, "one entry per endpoint, in the order check calls them")

			id := archivedMessageID(t, fake, url, mimecastfake.DefaultClientID, mimecastfake.DefaultClientSecret)
			fake.ResetStats()
			p := newEnrich(t, url, "lookups: "+tt.lookups+"\n")
			out := process(t, p, event(id))
			require.NoError(t, out[0].GetError())
			for _, ep := range streamtest.CalledEndpoints(fake) {
				assert.Contains(t, listed, ep, "a lookup called an endpoint Endpoints does not list")
			}
		})
	}
}
