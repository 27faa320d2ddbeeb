package threats

import (
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// Endpoints is what `check` tests: every endpoint a running input calls must be on it, and
// every list endpoint it names must be one the input reads.
func TestEndpointsListEveryEndpointTheInputCalls(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		feeds []string
	}{
		{"one feed", "feeds: [url_protect]\n", []string{feedURLProtect}},
		{"held messages read two lists", "feeds: [held_messages]\n", []string{feedHeld}},
		{
			"every feed with content view",
			"feeds: [threat_events, url_protect, attachment_protect, impersonation_protect, held_messages, siem]\n" +
				"siem_event_types: [url protect]\ncontent_view: true\n",
			allFeeds,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, url := streamtest.FakeTenant(t, smallTenant())
			conf, err := Spec().ParseYAML(streamtest.ConnYAML(url)+tt.extra, nil)
			require.NoError(t, err)
			calls, err := Endpoints(conf)
			require.NoError(t, err)
			listed := streamtest.EndpointsOf(calls)
			var lists []string
			for _, f := range tt.feeds {
				lists = append(lists, feedEndpoints[f]...)
			}

			c := streamtest.NewCollector()
			_, stop := streamtest.StartStream(t, streamtest.StreamSpec{Input: threatsYAML(url, tt.extra)}, c)
			c.WaitFor(t, 15*time.Second, func(msgs []*service.Message) bool {
				called := fake.Stats().Calls
				for _, ep := range lists {
					if called[ep] == 0 {
						return false
					}
				}
				return len(msgs) > 0
			})
			stop()
			called := streamtest.CalledEndpoints(fake)
			for _, ep := range called {
				assert.Contains(t, listed, ep, "the input called an endpoint Endpoints does not list")
			}
			for _, ep := range lists {
				assert.Contains(t, called, ep)
			}
		})
	}
}

func TestEndpointsRefuseSIEMWithoutEventTypes(t *testing.T) {
	conf, err := Spec().ParseYAML(streamtest.ConnYAML("http://127.0.0.1:1")+"feeds: [siem]\nsiem_event_types: []\n", nil)
	require.NoError(t, err)
	_, err = Endpoints(conf)
	require.ErrorContains(t, err, "siem_event_types: empty while feeds has siem")
}
