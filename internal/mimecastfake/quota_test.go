package mimecastfake

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuotaExceededGets429WithResetHeaders(t *testing.T) {
	h := newFakeHarness(t, Options{Quota: Quota{Limit: 2, Window: time.Minute}})
	h.bearer()
	h.clock.Advance(15 * time.Second) // the step clock starts on a minute boundary

	for range 2 {
		resp := h.do(http.MethodPost, "/api/ttp/url/get-logs", apiBody(nil, "", nil))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Empty(t, resp.Header.Get("X-RateLimit-Limit"), "headers only on 429 by default")
		resp.Body.Close()
	}
	resp := h.do(http.MethodPost, "/api/ttp/url/get-logs", apiBody(nil, "", nil))
	assert.Equal(t, "2", resp.Header.Get("X-RateLimit-Limit"))
	assert.Equal(t, "0", resp.Header.Get("X-RateLimit-Remaining"))
	assert.Equal(t, "45000", resp.Header.Get("X-RateLimit-Reset"), "milliseconds until the window rolls over")
	assert.Empty(t, resp.Header.Get("Retry-After"))
	status, body := decodeResponse(t, resp)
	require.Equal(t, http.StatusTooManyRequests, status)
	code, _ := gatewayFail(t, body)
	assert.Equal(t, "rate_limit_exceeded", code)

	h.clock.Advance(45 * time.Second)
	status, _ = h.post("/api/ttp/url/get-logs", apiBody(nil, "", nil))
	assert.Equal(t, http.StatusOK, status, "a new window admits calls again")
	assert.Equal(t, 1, h.srv.Stats().RateLimited)
}

func TestQuotaHeadersAlwaysCountDown(t *testing.T) {
	h := newFakeHarness(t, Options{Quota: Quota{Limit: 3, HeadersAlways: true}})
	for want := 2; want >= 0; want-- {
		resp := h.do(http.MethodPost, "/api/ttp/url/get-logs", apiBody(nil, "", nil))
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "3", resp.Header.Get("X-RateLimit-Limit"))
		assert.Equal(t, strconv.Itoa(want), resp.Header.Get("X-RateLimit-Remaining"))
		assert.Equal(t, "60000", resp.Header.Get("X-RateLimit-Reset"))
	}
}

func TestQuotaRetryAfterInWholeSeconds(t *testing.T) {
	h := newFakeHarness(t, Options{Quota: Quota{Limit: 1, RetryAfter: true}})
	h.bearer()
	h.clock.Advance(59*time.Second + 500*time.Millisecond)
	h.post("/api/ttp/url/get-logs", apiBody(nil, "", nil))
	resp := h.do(http.MethodPost, "/api/ttp/url/get-logs", apiBody(nil, "", nil))
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"), "half a second rounds up")
	assert.Equal(t, "500", resp.Header.Get("X-RateLimit-Reset"))
}

func TestQuotaIsPerClient(t *testing.T) {
	h := newFakeHarness(t, Options{
		Clients: []ClientApp{{ID: "a", Secret: "a"}, {ID: "b", Secret: "b"}},
		Quota:   Quota{Limit: 1},
	})
	tokens := map[string]string{}
	for _, id := range []string{"a", "b"} {
		_, body := h.issueToken(id, id)
		tokens[id] = body["access_token"].(string)
	}
	for _, id := range []string{"a", "b"} {
		status, _ := decodeResponse(t, h.doWith(tokens[id], http.MethodPost, "/api/ttp/url/get-logs", apiBody(nil, "", nil)))
		assert.Equal(t, http.StatusOK, status, "client %s has its own quota", id)
	}
	status, _ := decodeResponse(t, h.doWith(tokens["a"], http.MethodPost, "/api/ttp/url/get-logs", apiBody(nil, "", nil)))
	assert.Equal(t, http.StatusTooManyRequests, status)
}

func TestTokenEndpointIsNotChargedToTheQuota(t *testing.T) {
	h := newFakeHarness(t, Options{Quota: Quota{Limit: 1}})
	for range 3 {
		status, _ := h.issueToken(DefaultClientID, DefaultClientSecret)
		require.Equal(t, http.StatusOK, status)
	}
	status, _ := h.post("/api/ttp/url/get-logs", apiBody(nil, "", nil))
	assert.Equal(t, http.StatusOK, status)
}
