package mimecast

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A fault the client's retries absorb is counted in metrics, and logged once per call with what
// happened, so that an operator reading the log learns of a 5xx storm or a token revoked early
// without turning on tracing.
func TestCallAnsweredAfterRetriesIsLoggedOnceWithTheReasons(t *testing.T) {
	cases := []struct {
		name   string
		faults []int // statuses of the attempts before the 200
		want   string
	}{
		{"server errors warn", []int{503, 503}, "WARN mimecast /api/x: answered after 2 retries (http_503 x2)"},
		{"mixed reasons warn", []int{429, 502}, "WARN mimecast /api/x: answered after 2 retries (rate_limited x1, http_502 x1)"},
		{"429s only inform: waiting is how the quota works", []int{429, 429, 429}, "INFO mimecast /api/x: answered after 3 retries (rate_limited x3)"},
		{"no retry, no line", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
				if n := int(calls.Add(1)); n <= len(tc.faults) {
					writeJSON(w, tc.faults[n-1], `{"fail":[{"code":"x","message":"y"}]}`)
					return
				}
				writeJSON(w, 200, okEnvelope)
			})
			_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
			require.NoError(t, err)
			assert.Equal(t, tc.want, r.logs.Text())
		})
	}
}

func TestCallWhoseRetriesRunOutLeavesTheLogToTheCaller(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 503, `{"fail":[{"code":"down","message":"down"}]}`)
	}, func(c *Config) { c.MaxRetries = 2 })
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.Error(t, err)
	assert.Empty(t, r.logs.Text(), "the error is returned; logging it again here would say it twice")
}

func TestTokenRefusedBeforeExpiryIsLoggedOnce(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		if bearer(req) == 1 {
			writeJSON(w, 401, `{"fail":[{"code":"token_expired","message":"expired"}]}`)
			return
		}
		writeJSON(w, 200, okEnvelope)
	})
	for range 2 {
		_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
		require.NoError(t, err)
	}
	assert.Equal(t, "INFO mimecast /api/x: the access token was refused (token_expired) before its expiry; repeated the call with a new token", r.logs.Text())
	assert.Equal(t, int32(2), r.tokens.Load())
}

// The retry reason says where the fault was: a token endpoint that failed is not the API's fault,
// and a timeout is not a dropped connection.
func TestRetryReasonsNameTheTokenEndpointAndTimeouts(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, okEnvelope) })
	r.token = func(w http.ResponseWriter, req *http.Request, n int) {
		switch n {
		case 1:
			writeJSON(w, http.StatusServiceUnavailable, `{"fail":[{"code":"unavailable","message":"try later"}]}`)
		case 2:
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		default:
			serveToken(w, req, n, 1799)
		}
	}
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.NoError(t, err)
	assert.Contains(t, r.metrics.Events(), "retry /api/x token_http_503")
	assert.Contains(t, r.metrics.Events(), "retry /api/x token_network")
	assert.Equal(t, "WARN mimecast /api/x: answered after 2 retries (token_http_503 x1, token_network x1)", r.logs.Text())

	var calls atomic.Int32
	slow := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		if calls.Add(1) == 1 {
			hang(req)
			return
		}
		writeJSON(w, 200, okEnvelope)
	}, func(c *Config) { c.Timeout = 100 * time.Millisecond })
	_, err = slow.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.NoError(t, err)
	assert.Contains(t, slow.metrics.Events(), "retry /api/x timeout")
	assert.Equal(t, "WARN mimecast /api/x: answered after 1 retry (timeout x1)", slow.logs.Text())
}
