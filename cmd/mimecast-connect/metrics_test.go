package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// scrapeRun runs mimecast_threats on url_protect against fake with the given secret and the
// prometheus exporter, and calls check with /metrics until it passes.
func scrapeRun(t *testing.T, fakeURL, secret string, check func(c *assert.CollectT, body string)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetYAML(fmt.Sprintf(`
http:
  enabled: true
  address: %s
input:
  label: threats
  mimecast_threats:
    api_url: %s
    client_id: %s
    client_secret: %s
    feeds: [url_protect]
    poll_interval: 100ms
    stats_interval: ""
    max_retries: 0
output:
  drop: {}
metrics:
  prometheus: {}
logger:
  level: none
`, addr, fakeURL, mimecastfake.DefaultClientID, secret)))
	s, err := b.Build()
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Run(t.Context()) }()
	client := &http.Client{Timeout: time.Second}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		res, err := client.Get("http://" + addr + "/metrics")
		require.NoError(c, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(c, err)
		check(c, string(body))
	}, 10*time.Second, 50*time.Millisecond)
	require.NoError(t, s.StopWithin(5*time.Second))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not stop")
	}
}

// Error series exist at zero before the first error, and refused credentials show in
// mimecast_threats_auth_failing.
func TestPrometheusShowsErrorSeriesFromTheStartAndRefusedCredentials(t *testing.T) {
	fake := httptest.NewServer(mimecastfake.New(mimecastfake.Options{Seed: 1, Sizes: mimecastfake.Sizes{EventsPerFeed: 20, Span: time.Hour}}))
	t.Cleanup(fake.Close)
	const series = `{feed="url_protect",label="threats",path="root.input"}`
	scrapeRun(t, fake.URL, mimecastfake.DefaultClientSecret, func(c *assert.CollectT, body string) {
		assert.Contains(c, body, `mimecast_threats_emitted`+series+` 20`)
		assert.Contains(c, body, `mimecast_threats_fetch_errors`+series+` 0`)
		assert.Contains(c, body, `mimecast_threats_checkpoint_errors`+series+` 0`)
		assert.Contains(c, body, `mimecast_threats_auth_failing{feed="url_protect",label="threats",path="root.input",source="url_protect"} 0`)
		for _, reason := range []string{"rate_limited", "network", "timeout"} {
			assert.Contains(c, body, `mimecast_api_retries{endpoint="/api/ttp/url/get-logs",label="threats",path="root.input",reason="`+reason+`"} 0`)
		}
		assert.Contains(c, body, `mimecast_api_rate_limited{endpoint="/api/ttp/url/get-logs",label="threats",path="root.input"} 0`)
	})
	scrapeRun(t, fake.URL, "not-the-secret", func(c *assert.CollectT, body string) {
		assert.Contains(c, body, `mimecast_threats_auth_failing{feed="url_protect",label="threats",path="root.input",source="url_protect"} 1`)
	})
}

// TestPrometheusServesOurCountersDuringARun runs mimecast_threats against the fake with the
// prometheus exporter of this binary and scrapes /metrics while it runs.
func TestPrometheusServesOurCountersDuringARun(t *testing.T) {
	fake := httptest.NewServer(mimecastfake.New(mimecastfake.Options{Seed: 1, Sizes: mimecastfake.Sizes{EventsPerFeed: 20, Span: time.Hour}}))
	t.Cleanup(fake.Close)
	scrapeRun(t, fake.URL, mimecastfake.DefaultClientSecret, func(c *assert.CollectT, body string) {
		assert.Contains(c, body, `mimecast_threats_emitted{feed="url_protect",label="threats",path="root.input"} 20`)
		assert.Contains(c, body, `mimecast_api_calls{endpoint="/api/ttp/url/get-logs",label="threats",path="root.input",status="200"}`)
	})
}
