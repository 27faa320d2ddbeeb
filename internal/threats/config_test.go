package threats

import (
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestThreatsBadConfigsFailNamingTheField(t *testing.T) {
	base := "client_id: a\nclient_secret: b\napi_url: http://127.0.0.1:1\n"
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown feed", "feeds: [threat_events, phishy]\n", `feeds: unknown feed "phishy": use one of threat_events`},
		{"empty feeds", "feeds: []\n", "feeds: empty"},
		{"unknown siem type", "feeds: [siem]\nsiem_event_types: [virus]\n", `siem_event_types: unknown SIEM event type "virus"`},
		{"zero poll interval", "poll_interval: 0s\n", "poll_interval: 0s is not positive"},
		{"negative lookback", "lookback: -1h\n", "lookback: -1h0m0s is not positive"},
		{"negative overlap", "overlap: -1m\n", "overlap: -1m0s is negative"},
		{"bad CEL", "filters:\n  - expression: 'evnt.x == 1'\n", "filters[0].expression: ERROR: <input>:1:1: undeclared reference to 'evnt'"},
		{"non-bool CEL", "filters:\n  - expression: 'feed + \"x\"'\n", "filters[0].expression"},
		{"missing cache", "checkpoint_cache: nope\n", `checkpoint_cache: cache resource "nope" is not defined`},
		{"checkpoint key with a slash", "checkpoint_key: a/b\n", "checkpoint_key"},
		{"page size over the API maximum", "page_size: 1000\n", "page_size: 1000 is out of range: use 1 to 500"},
		{"missing rate limit", "rate_limit: nope\n", `rate_limit: rate_limit resource "nope" is not defined`},
		{"zero pages in flight", "max_pages_in_flight: 0\n", "max_pages_in_flight: 0 is below 1"},
		{"backfill slice within the overlap", "backfill_slice: 5m\n", "backfill_slice: 5m0s is not longer than overlap (5m0s)"},
		{"negative backfill slice", "backfill_slice: -1h\n", "backfill_slice: -1h0m0s is not longer than overlap"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conf, err := Spec().ParseYAML(base+tc.yaml, nil)
			require.NoError(t, err)
			_, err = threatsConfigFromParsed(conf, service.MockResources())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestThreatsLintRejectsBadValuesBeforeStartUp(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown feed", "feeds: [phishy]", "unknown feed phishy: use one of threat_events"},
		{"zero poll interval", "poll_interval: 0s", "poll_interval must be a positive duration"},
		{"page size", "page_size: 1000", "page_size must be between 1 and 500"},
		{"bad action", "filters: [{expression: 'true', action: maybe}]", "maybe"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := service.NewEnvironment()
			b := env.NewStreamBuilder()
			err := b.AddInputYAML("mimecast_threats:\n  client_id: a\n  client_secret: b\n  " + tc.yaml + "\n")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
