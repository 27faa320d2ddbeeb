package mimecast

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestColdStartFetchesOneTokenForConcurrentCalls(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		assert.Equal(t, 1, bearer(req))
		writeJSON(w, 200, okEnvelope)
	})
	release := make(chan struct{})
	r.token = func(w http.ResponseWriter, req *http.Request, n int) {
		<-release // hold the first fetch so that every caller piles up behind it
		serveToken(w, req, n, 1799)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
			errs <- err
		})
	}
	require.Eventually(t, func() bool { return r.tokens.Load() == 1 }, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int32(1), r.tokens.Load())
	assert.Equal(t, int64(1), r.client.Stats().TokenFetches)
}

func TestTokenRequestUsesFormCredentials(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, okEnvelope) })
	r.token = func(w http.ResponseWriter, req *http.Request, n int) {
		assert.Equal(t, http.MethodPost, req.Method)
		assert.Equal(t, "application/x-www-form-urlencoded", req.Header.Get("Content-Type"))
		assert.Empty(t, req.Header.Get("Authorization"), "credentials go in the form, not Basic auth")
		serveToken(w, req, n, 1799) // answers 401 unless client_id, client_secret and grant_type are right
	}
	_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	require.NoError(t, err)
}

func TestTokenRefreshedBeforeExpiryByTheOffset(t *testing.T) {
	cases := []struct {
		name        string
		offset      time.Duration
		stillValid  time.Duration // clock advance after which the first token is still used
		needsNewOne time.Duration // clock advance after which a new token is fetched
	}{
		{"default 60s early", 0, 1730 * time.Second, 1745 * time.Second},
		{"5 minutes early", -5 * time.Minute, 1490 * time.Second, 1505 * time.Second},
		{"30s after expiry", 30 * time.Second, 1820 * time.Second, 1835 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, okEnvelope) },
				func(c *Config) { c.TokenExpiryOffset = tc.offset })
			call := func() {
				_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
				require.NoError(t, err)
			}
			call()
			r.clock.Advance(tc.stillValid)
			call()
			assert.Equal(t, int32(1), r.tokens.Load())
			r.clock.Advance(tc.needsNewOne - tc.stillValid)
			call()
			assert.Equal(t, int32(2), r.tokens.Load())
		})
	}
}

func TestTokenRefreshedOnceOnTokenExpired(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		calls.Add(1)
		if bearer(req) == 1 {
			writeJSON(w, 401, `{"fail":[{"code":"token_expired","message":"The access token has expired"}]}`)
			return
		}
		writeJSON(w, 200, okEnvelope)
	})
	_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), r.tokens.Load())
	assert.Equal(t, int32(2), calls.Load())
	assert.Empty(t, r.clock.Sleeps(), "a refresh is not a backoff")
}

func TestSecond401IsReturnedAsAnError(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		writeJSON(w, 401, `{"fail":[{"code":"token_expired","message":"The access token has expired"}]}`)
	})
	_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.True(t, apiErr.Unauthorized())
	assert.False(t, apiErr.Retryable)
	assert.Equal(t, int32(2), r.tokens.Load())
	assert.Equal(t, int32(2), calls.Load())
}

func TestFreshToken401WithoutExpiredCodeIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		writeJSON(w, 401, `{"fail":[{"code":"unauthorized","message":"Unauthorized"}]}`)
	})
	_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.True(t, apiErr.Unauthorized())
	assert.Equal(t, int32(1), r.tokens.Load(), "a token fetched for this call and refused will be refused again")
	assert.Equal(t, int32(1), calls.Load())
}

func TestCachedToken401RefreshesOnce(t *testing.T) {
	var refuse atomic.Bool
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		if refuse.Load() && bearer(req) == 1 {
			writeJSON(w, 401, `{"fail":[{"code":"unauthorized","message":"Unauthorized"}]}`)
			return
		}
		writeJSON(w, 200, okEnvelope)
	})
	_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	require.NoError(t, err)
	refuse.Store(true) // the server revokes token 1 early
	_, err = r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), r.tokens.Load())
}

func TestConcurrent401sFetchOneNewToken(t *testing.T) {
	var revoked atomic.Bool
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		if revoked.Load() && bearer(req) == 1 {
			writeJSON(w, 401, `{"fail":[{"code":"token_expired","message":"expired"}]}`)
			return
		}
		writeJSON(w, 200, okEnvelope)
	})
	_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	require.NoError(t, err)
	revoked.Store(true)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, int32(2), r.tokens.Load())
}

func TestInvalidCredentialsAreNotRetried(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, func(http.ResponseWriter, *http.Request) { calls.Add(1) },
		func(c *Config) { c.ClientSecret = "wrong-" + rigClientSecret })
	_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "/oauth/token", apiErr.Endpoint)
	assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
	assert.True(t, apiErr.HasCode("InvalidClientIdentifier"))
	assert.True(t, apiErr.Unauthorized())
	assert.False(t, IsRetryable(err))
	assert.NotContains(t, err.Error(), rigClientSecret)
	assert.Equal(t, "mimecast /oauth/token: HTTP 401 InvalidClientIdentifier: Client credentials are invalid", err.Error())
	assert.Equal(t, int32(1), r.tokens.Load())
	assert.Zero(t, calls.Load())
	assert.Empty(t, r.clock.Sleeps())
}

func TestTokenEndpointFailuresAreRetriedWithBackoff(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, okEnvelope) })
	r.token = func(w http.ResponseWriter, req *http.Request, n int) {
		switch n {
		case 1:
			writeJSON(w, http.StatusBadGateway, `<html>bad gateway</html>`)
		case 2: // a network failure: the connection drops without an answer
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		default:
			serveToken(w, req, n, 1799)
		}
	}
	_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	require.NoError(t, err)
	assert.Equal(t, int32(3), r.tokens.Load())
	assert.Len(t, r.clock.Sleeps(), 2)
	assert.Equal(t, int64(2), r.client.Stats().Retries)
}

func TestTokenEndpointServerErrorIsRetryableWhenRetriesRunOut(t *testing.T) {
	r := newRig(t, func(http.ResponseWriter, *http.Request) { t.Error("no API call without a token") },
		func(c *Config) { c.MaxRetries = -1 })
	r.token = func(w http.ResponseWriter, _ *http.Request, _ int) {
		writeJSON(w, http.StatusServiceUnavailable, `{"fail":[{"code":"unavailable","message":"try later"}]}`)
	}
	_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "/oauth/token", apiErr.Endpoint)
	assert.True(t, IsRetryable(err))
}

// recordingTransport is the innermost layer in layer tests: it records requests and answers 200.
type recordingTransport struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, req)
	rt.mu.Unlock()
	rec := httptest.NewRecorder()
	rec.WriteHeader(http.StatusOK)
	return rec.Result(), nil
}

func TestBearerTokenIsSentOnlyToTheAPIHost(t *testing.T) {
	r := newRig(t, func(http.ResponseWriter, *http.Request) {})
	api, _ := url.Parse(r.srv.URL)
	inner := &recordingTransport{}
	auth := &authTransport{next: inner, tokens: r.client.tokens, api: api}
	for _, target := range []string{r.srv.URL + "/api/x", "http://storage.example.test/file", "https://" + api.Host + "/api/x"} {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		resp, err := auth.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	require.Len(t, inner.reqs, 3)
	assert.Equal(t, "Bearer "+rigTokenPrefix+"1", inner.reqs[0].Header.Get("Authorization"))
	assert.Empty(t, inner.reqs[1].Header.Get("Authorization"), "another host")
	assert.Empty(t, inner.reqs[2].Header.Get("Authorization"), "same host, other scheme")
}

func TestTransient401sRefreshTheTokenAndRetry(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		failures int32 // 401s before the call goes through
	}{
		{"token_verification_failed once", `{"fail":[{"code":"token_verification_failed","message":"The access token could not be verified"}]}`, 1},
		{"Unauthorized Request once", `{"fail":[{"code":"Unauthorized Request","message":"Unauthorized Request"}]}`, 1},
		{"three in a row", `{"fail":[{"code":"token_verification_failed","message":"x"}]}`, 3},
		{"nested under errors", `{"fail":[{"errors":[{"code":"Unauthorized Request","message":"x","retryable":false}]}]}`, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
				if calls.Add(1) <= tc.failures {
					w.Header().Set("X-Request-Id", "req-"+tc.name[:5])
					writeJSON(w, 401, tc.body)
					return
				}
				writeJSON(w, 200, okEnvelope)
			})
			_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
			require.NoError(t, err)
			assert.Equal(t, tc.failures+1, calls.Load())
			// The auth layer replaces a refused token once per attempt; an attempt whose fresh
			// token is refused too goes back to the retry layer.
			assert.Equal(t, (tc.failures+1)/2+1, r.tokens.Load())
			assert.Contains(t, r.logs.Text(), "req-"+tc.name[:5], "the refused answer's x-request-id is logged")
		})
	}
}

func TestTransient401sThatGoOnAreRetryableNotBadCredentials(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("X-Request-Id", "abc-123")
		writeJSON(w, 401, `{"fail":[{"code":"token_verification_failed","message":"The access token could not be verified"}]}`)
	}, func(c *Config) { c.MaxRetries = 2 })
	_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.True(t, apiErr.TransientAuth())
	assert.False(t, apiErr.Unauthorized(), "a failed verification says nothing about the credentials")
	assert.True(t, apiErr.Retryable)
	assert.True(t, IsRetryable(err))
	assert.Equal(t, "abc-123", apiErr.RequestID)
	assert.Contains(t, err.Error(), "(x-request-id abc-123)")
	assert.Equal(t, int32(6), calls.Load(), "3 attempts, each with one refresh")
	assert.Len(t, r.clock.Sleeps(), 2, "retries back off")
}

func TestFailedCallsNameTheirRequestID(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
	}{
		{"403", 403, `{"fail":[{"code":"app_forbidden","message":"Forbidden to perform the requested operation"}]}`},
		{"400 function fail", 200, `{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"err_validation","message":"bad","retryable":false}]}]}`},
		{"HTML 503", 503, `<html>503</html>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("X-Request-Id", "id-7")
				if tc.body[0] == '<' {
					w.Header().Set("Content-Type", "text/html")
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(tc.body))
					return
				}
				writeJSON(w, tc.status, tc.body)
			}, func(c *Config) { c.MaxRetries = 0 })
			_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, "id-7", apiErr.RequestID)
			assert.Contains(t, err.Error(), "(x-request-id id-7)")
		})
	}
}

func TestRequestIDIsCutAndCleanedForLogs(t *testing.T) {
	h := http.Header{}
	h.Set("X-Request-Id", " a b\x1b[31mc"+strings.Repeat("x", 100))
	id := requestID(h)
	assert.Len(t, id, 64-2, "trimmed and cut to 64 bytes, then the space and the control character dropped")
	assert.True(t, strings.HasPrefix(id, "ab[31mc"))
}

func TestTokensShorterThanTheExpiryOffsetAreUsedForHalfTheirLife(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, okEnvelope) },
		func(c *Config) { c.TokenExpiryOffset = -5 * time.Minute })
	r.expiresIn = 120 // two minutes, under the five-minute offset
	call := func() {
		_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
		require.NoError(t, err)
	}
	call()
	call()
	r.clock.Advance(50 * time.Second)
	call()
	assert.Equal(t, int32(1), r.tokens.Load(), "not a token fetch before every call")
	r.clock.Advance(15 * time.Second)
	call()
	assert.Equal(t, int32(2), r.tokens.Load(), "a new token after half the lifetime")
	assert.Equal(t, 1, strings.Count(r.logs.Text(), "access tokens live 2m0s, less than token_expiry_offset"), "said once")
}
