package mimecast

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRateLimitedCallWaitsAsTheServerAsks(t *testing.T) {
	cases := []struct {
		name       string
		headers    func(now time.Time) http.Header
		multiplier float64
		maxWait    time.Duration
		want       []time.Duration // waits before the 2nd and 3rd attempts
		status     int             // of the first two answers; 0: 429
	}{
		{"X-RateLimit-Reset in ms", hdr("X-RateLimit-Reset", "4500"), 1, 0, []time.Duration{4500 * time.Millisecond, 4500 * time.Millisecond}, 0},
		{"X-RateLimit-Reset as float string", hdr("X-RateLimit-Reset", "4500.0"), 1, 0, []time.Duration{4500 * time.Millisecond, 4500 * time.Millisecond}, 0},
		{"Retry-After seconds", hdr("Retry-After", "3"), 1, 0, []time.Duration{3 * time.Second, 3 * time.Second}, 0},
		{"Retry-After HTTP date", func(now time.Time) http.Header {
			return http.Header{"Retry-After": {now.Add(7 * time.Second).UTC().Format(http.TimeFormat)}}
			// An HTTP date has whole seconds: after the pacer's resetMargin the clock is 50ms
			// into a second, which the second date cannot express.
		}, 1, 0, []time.Duration{7 * time.Second, 7*time.Second - resetMargin}, 0},
		{"Reset wins over Retry-After", func(time.Time) http.Header {
			return http.Header{"X-Ratelimit-Reset": {"2000"}, "Retry-After": {"9"}}
		}, 1, 0, []time.Duration{2 * time.Second, 2 * time.Second}, 0},
		{"no header: 1s doubling", hdr("", ""), 1, 0, []time.Duration{time.Second, 2 * time.Second}, 0},
		{"multiplier", hdr("X-RateLimit-Reset", "1000"), 2.5, 0, []time.Duration{2500 * time.Millisecond, 2500 * time.Millisecond}, 0},
		{"capped at max_retry_wait", hdr("X-RateLimit-Reset", "600000"), 1, 10 * time.Second, []time.Duration{10 * time.Second, 10 * time.Second}, 0},
		{"503 Retry-After seconds", hdr("Retry-After", "3"), 1, 0, []time.Duration{3 * time.Second, 3 * time.Second}, http.StatusServiceUnavailable},
		{"503 Retry-After with the multiplier", hdr("Retry-After", "2"), 1.5, 0, []time.Duration{3 * time.Second, 3 * time.Second}, http.StatusServiceUnavailable},
		{"503 capped at max_retry_wait", hdr("Retry-After", "600"), 2, 10 * time.Second, []time.Duration{10 * time.Second, 10 * time.Second}, http.StatusServiceUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			var r *rig
			r = newRig(t, func(w http.ResponseWriter, _ *http.Request) {
				if calls.Add(1) <= 2 {
					for k, v := range tc.headers(r.clock.Now()) {
						w.Header()[k] = v
					}
					status := cmp.Or(tc.status, http.StatusTooManyRequests)
					writeJSON(w, status, `{"fail":[{"code":"rate_limited","message":"Too many requests"}]}`)
					return
				}
				writeJSON(w, 200, okEnvelope)
			}, func(c *Config) {
				c.RetryAfterMultiplier = tc.multiplier
				if tc.maxWait > 0 {
					c.MaxRetryWait = tc.maxWait
				}
			})
			_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
			require.NoError(t, err)
			// The quota pacer adds resetMargin after the server's wait before the next call.
			var waits []time.Duration
			for _, d := range r.clock.Sleeps() {
				if d != resetMargin {
					waits = append(waits, d)
				}
			}
			assert.Equal(t, tc.want, waits)
			assert.Equal(t, int32(3), calls.Load())
		})
	}
}

func hdr(k, v string) func(time.Time) http.Header {
	return func(time.Time) http.Header {
		if k == "" {
			return http.Header{}
		}
		return http.Header{http.CanonicalHeaderKey(k): {v}}
	}
}

func TestServerErrorsBackOffWithJitterUpToMaxRetries(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		writeJSON(w, http.StatusServiceUnavailable, `{"fail":[{"code":"unavailable","message":"down"}]}`)
	}, func(c *Config) { c.MaxRetries = 4 })
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
	assert.True(t, apiErr.Retryable)
	assert.Equal(t, int32(5), calls.Load())
	sleeps := r.clock.Sleeps()
	require.Len(t, sleeps, 4)
	for i, d := range sleeps {
		assert.GreaterOrEqual(t, d, time.Duration(0))
		assert.LessOrEqual(t, d, backoffBase<<i, "attempt %d", i)
	}
	assert.Equal(t, int64(4), r.client.Stats().Retries)
	assert.Contains(t, r.metrics.Events(), "retry /api/x http_503")
}

func TestBackoffIsFullJitterCappedAtMaxWait(t *testing.T) {
	rt := &retryTransport{maxWait: 3 * time.Second}
	seen := map[bool]bool{}
	for range 200 {
		d := rt.backoff(4) // ceiling min(16s, 3s)
		require.GreaterOrEqual(t, d, time.Duration(0))
		require.LessOrEqual(t, d, 3*time.Second)
		seen[d < 1500*time.Millisecond] = true
	}
	assert.Len(t, seen, 2, "waits spread over the whole range")
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	cases := []struct {
		status int
		body   string
		check  func(*APIError) bool
	}{
		{http.StatusBadRequest, `{"meta":{"status":400},"data":[],"fail":[{"errors":[{"code":"err_validation","message":"bad","retryable":false}]}]}`, func(e *APIError) bool { return e.HasCode("err_validation") }},
		{http.StatusForbidden, `{"fail":[{"code":"app_forbidden","message":"Forbidden to perform the requested operation"}]}`, (*APIError).Forbidden},
		{http.StatusNotFound, `<html>not found</html>`, (*APIError).NotFound},
		{http.StatusNotImplemented, `{}`, func(e *APIError) bool { return e.StatusCode == 501 }},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			var calls atomic.Int32
			r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
				calls.Add(1)
				writeJSON(w, tc.status, tc.body)
			})
			_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.True(t, tc.check(apiErr), "%v", err)
			assert.False(t, IsRetryable(err))
			assert.Equal(t, int32(1), calls.Load())
			assert.Empty(t, r.clock.Sleeps())
		})
	}
}

func TestConnectionResetMidBodyIsRetried(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Length", "500")
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"meta":{"status":200},"data":[`))
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		writeJSON(w, 200, okEnvelope)
	})
	env, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.NoError(t, err)
	assert.JSONEq(t, `[{"id":"a"}]`, string(env.Data))
	assert.Equal(t, int32(2), calls.Load())
	assert.Contains(t, r.metrics.Events(), "retry /api/x network")
}

func TestSlowAttemptTimesOutAndIsRetried(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		if calls.Add(1) == 1 {
			hang(req) // until the client gives up on this attempt
			return
		}
		writeJSON(w, 200, okEnvelope)
	}, func(c *Config) { c.Timeout = 100 * time.Millisecond })
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), calls.Load())
}

func TestSlowBodyPastTimeoutIsARetryableErrorNamingTheEndpoint(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"meta":`))
		w.(http.Flusher).Flush()
		hang(req)
	}, func(c *Config) { c.Timeout = 100 * time.Millisecond; c.MaxRetries = -1 })
	_, err := r.client.CallAPI(t.Context(), "/api/slow", nil, Pagination{})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "/api/slow", apiErr.Endpoint)
	assert.True(t, apiErr.Retryable)
	assert.Contains(t, err.Error(), "timeout")
	assert.ErrorIs(t, err, errAttemptTimeout)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "not to be confused with the caller's deadline")
}

func TestRetryableFailEntryIsRetried(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			writeJSON(w, 200, `{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"err_busy","message":"busy","retryable":true}]}]}`)
			return
		}
		writeJSON(w, 200, okEnvelope)
	})
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), calls.Load())
	assert.Contains(t, r.metrics.Events(), "retry /api/x retryable_fail")
}

func TestPostBodyIsReplayedOnRetry(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies []string
	)
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		n := len(bodies)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		writeJSON(w, 200, okEnvelope)
	})
	_, err := r.client.CallAPI(t.Context(), "/api/x", map[string]string{"q": "v"}, Pagination{PageSize: 3})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, bodies, 2)
	assert.Equal(t, bodies[0], bodies[1])
	assert.JSONEq(t, `{"meta":{"pagination":{"pageSize":3}},"data":[{"q":"v"}]}`, bodies[1])
}

func TestNoRetriesWhenMaxRetriesIsNone(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}, func(c *Config) { c.MaxRetries = -1 })
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.Error(t, err)
	assert.Equal(t, int32(1), calls.Load())
}

func TestCancellationStopsWaitingAtOnce(t *testing.T) {
	arrived := make(chan struct{}, 10)
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		w.Header().Set("X-RateLimit-Reset", "600000") // ten minutes
		w.WriteHeader(http.StatusTooManyRequests)
	}, func(c *Config) { c.Sleep = nil; c.MaxRetryWait = time.Hour }) // real sleeping
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	start := time.Now()
	_, err := r.client.CallAPI(ctx, "/api/x", nil, Pagination{})
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, IsRetryable(err))
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestServerWaitParsesHeaders(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{http.Header{"X-Ratelimit-Reset": {"4500"}}, 4500 * time.Millisecond, true},
		{http.Header{"X-Ratelimit-Reset": {" 4500.5 "}}, 4500500 * time.Microsecond, true},
		{http.Header{"X-Ratelimit-Reset": {`"250"`}}, 250 * time.Millisecond, true},
		{http.Header{"X-Ratelimit-Reset": {"-5"}}, 0, true},
		{http.Header{"X-Ratelimit-Reset": {"soon"}, "Retry-After": {"2"}}, 2 * time.Second, true},
		{http.Header{"Retry-After": {"1.5"}}, 1500 * time.Millisecond, true},
		{http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0, true},
		{http.Header{"Retry-After": {"whenever"}}, 0, false},
		{http.Header{}, 0, false},
	}
	for _, tc := range cases {
		got, ok := serverWait(tc.h, now)
		assert.Equal(t, tc.ok, ok, "%v", tc.h)
		assert.Equal(t, tc.want, got, "%v", tc.h)
	}
}

func TestUnreplayableBodyIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	inner := roundTripFunc(func(*http.Request) (*http.Response, error) {
		calls.Add(1)
		return &http.Response{StatusCode: 503, Body: io.NopCloser(bytes.NewReader(nil)), Header: http.Header{}}, nil
	})
	rt := &retryTransport{next: inner, maxRetries: 3, maxWait: time.Second, multiplier: 1, now: time.Now,
		sleep: func(context.Context, time.Duration) error { return nil }, onRetry: func(string, string) {}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://x.test/api/x", io.NopCloser(bytes.NewReader([]byte("{}"))))
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, int32(1), calls.Load())
}

// hang blocks a handler until the client drops the request (bounded, so that a client that never
// does fails the test rather than hanging it). The body is drained first: only then does the
// server notice a closed connection.
func hang(req *http.Request) {
	_, _ = io.Copy(io.Discard, req.Body)
	select {
	case <-req.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestALongWaitBeforeARetryIsLoggedWhenItStarts(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "30")
			writeJSON(w, 429, `{"fail":[{"code":"rate_limit_exceeded","message":"Too many requests"}]}`)
			return
		}
		writeJSON(w, 200, okEnvelope)
	})
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.NoError(t, err)
	logs := r.logs.Text()
	assert.Contains(t, logs, "INFO mimecast /api/x: waiting 30s before retrying (rate_limited)")
	assert.Less(t, strings.Index(logs, "waiting 30s"), strings.Index(logs, "answered after"), "said before the wait, not after")
}
