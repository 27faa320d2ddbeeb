package mimecast

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatsCountCallsErrorsRateLimitsAndRetries(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		switch {
		case req.URL.Path == "/api/broken":
			w.WriteHeader(http.StatusBadRequest)
		case calls.Add(1) == 1:
			w.Header().Set("X-RateLimit-Reset", "100")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			writeJSON(w, 200, okEnvelope)
		}
	})
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.NoError(t, err)
	_, err = r.client.CallAPI(t.Context(), "/api/broken", nil, Pagination{})
	require.Error(t, err)

	assert.Equal(t, Stats{Calls: 4, HTTPErrors: 2, RateLimited: 1, Retries: 1, TokenFetches: 1}, r.client.Stats())
	assert.Equal(t, []string{
		"call /oauth/token 200",
		"rate_limited /api/x",
		"call /api/x 429",
		"retry /api/x rate_limited",
		"call /api/x 200",
		"call /api/broken 400",
	}, r.metrics.Events())
}

func TestNetworkErrorsAreCountedWithStatusError(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}, func(c *Config) { c.MaxRetries = -1 })
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.Error(t, err)
	assert.True(t, IsRetryable(err))
	assert.Equal(t, int64(1), r.client.Stats().NetworkErrors)
	assert.Contains(t, r.metrics.Events(), "call /api/x error")
}

func TestStatsLogLineEveryInterval(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, okEnvelope) },
		func(c *Config) { c.StatsInterval = 10 * time.Millisecond })
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return strings.Contains(r.logs.Text(), "mimecast client: 2 calls (")
	}, 5*time.Second, 5*time.Millisecond)
	line := r.logs.Text()
	for _, want := range []string{"/s over the last 10ms", "0 HTTP errors", "0 rate limited (429)", "0 retries", "1 token requests"} {
		assert.Contains(t, line, want)
	}
}
