package mimecast

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRateLimitHookIsAwaitedBeforeEveryAttempt(t *testing.T) {
	var hooks, calls atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/file" {
			_, _ = w.Write([]byte("data"))
			return
		}
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		writeJSON(w, 200, okEnvelope)
	}, func(c *Config) {
		c.RateLimit = func(context.Context) error { hooks.Add(1); return nil }
	})
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), hooks.Load(), "the first attempt and its retry")

	body, err := r.client.Download(t.Context(), r.srv.URL+"/file")
	require.NoError(t, err)
	body.Close()
	assert.Equal(t, int32(3), hooks.Load(), "downloads too")
	assert.Equal(t, int32(1), r.tokens.Load(), "token requests are not API calls")
}

func TestRateLimitHookErrorStopsTheCall(t *testing.T) {
	hookErr := errors.New("rate limit resource closed")
	r := newRig(t, func(http.ResponseWriter, *http.Request) { t.Error("no API call expected") },
		func(c *Config) { c.RateLimit = func(context.Context) error { return hookErr } })
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.ErrorIs(t, err, hookErr)
	assert.Contains(t, err.Error(), "rate_limit")
	assert.Empty(t, r.clock.Sleeps(), "not retried")
	assert.False(t, IsRetryable(err))
}

func TestRateLimitHookSeesTheCallersContext(t *testing.T) {
	type key struct{}
	var seen atomic.Value
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, okEnvelope) },
		func(c *Config) {
			c.RateLimit = func(ctx context.Context) error { seen.Store(ctx.Value(key{})); return nil }
		})
	_, err := r.client.CallAPI(context.WithValue(t.Context(), key{}, "component-a"), "/api/x", nil, Pagination{})
	require.NoError(t, err)
	assert.Equal(t, "component-a", seen.Load(), "the connection registry passes each component's rate_limit this way")
}
