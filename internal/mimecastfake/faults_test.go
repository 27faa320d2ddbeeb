package mimecastfake

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func urlLogsCall(h *fakeHarness) (int, map[string]any) {
	h.t.Helper()
	return h.post("/api/ttp/url/get-logs", apiBody(5, "", map[string]any{"from": "2020-01-01T00:00:00+0000"}))
}

func TestRateLimitBurstHeaderVariants(t *testing.T) {
	cases := []struct {
		headers                string
		wantReset, wantRetryAf string
	}{
		{RateLimitHeadersReset, "2500", ""},
		{RateLimitHeadersRetryAfter, "", "3"},
		{RateLimitHeadersBoth, "2500", "3"},
		{RateLimitHeadersNone, "", ""},
	}
	for _, c := range cases {
		t.Run(c.headers, func(t *testing.T) {
			h := newFakeHarness(t, Options{Faults: Faults{RateLimitBurst: 2, RateLimitHeaders: c.headers, RateLimitResetMs: 2500}})
			for range 2 {
				resp := h.do(http.MethodPost, "/api/ttp/url/get-logs", apiBody(nil, "", nil))
				assert.Equal(t, c.wantReset, resp.Header.Get("X-RateLimit-Reset"))
				assert.Equal(t, c.wantRetryAf, resp.Header.Get("Retry-After"))
				status, body := decodeResponse(t, resp)
				require.Equal(t, http.StatusTooManyRequests, status)
				code, _ := gatewayFail(t, body)
				assert.Equal(t, "rate_limit_exceeded", code)
			}
			status, _ := urlLogsCall(h)
			assert.Equal(t, http.StatusOK, status, "the burst is over after N calls")
			assert.Equal(t, 2, h.srv.Stats().RateLimited)
		})
	}
}

func TestServerErrorsCountDown(t *testing.T) {
	h := newFakeHarness(t, Options{Faults: Faults{ServerErrors: 2}})
	for range 2 {
		status, body := urlLogsCall(h)
		require.Equal(t, http.StatusInternalServerError, status)
		gatewayFail(t, body)
	}
	status, _ := urlLogsCall(h)
	assert.Equal(t, http.StatusOK, status)
	assert.Zero(t, h.srv.Faults().ServerErrors)
}

func TestServerErrorForLastsUntilTheClockPassesIt(t *testing.T) {
	h := newFakeHarness(t, Options{})
	h.srv.SetFaults(Faults{ServerErrorFor: 5 * time.Minute})
	status, _ := urlLogsCall(h)
	require.Equal(t, http.StatusServiceUnavailable, status)
	h.clock.Advance(4 * time.Minute)
	status, _ = urlLogsCall(h)
	require.Equal(t, http.StatusServiceUnavailable, status)
	h.clock.Advance(time.Minute)
	status, _ = urlLogsCall(h)
	assert.Equal(t, http.StatusOK, status)
}

func TestExpireTokensRevokesTheToken(t *testing.T) {
	h := newFakeHarness(t, Options{Faults: Faults{ExpireTokens: 1}})
	status, body := urlLogsCall(h)
	require.Equal(t, http.StatusUnauthorized, status)
	code, _ := gatewayFail(t, body)
	assert.Equal(t, "token_expired", code)

	status, body = urlLogsCall(h)
	require.Equal(t, http.StatusUnauthorized, status, "the revoked token stays dead")
	code, _ = gatewayFail(t, body)
	assert.Equal(t, "token_expired", code)

	h.token = ""
	status, _ = urlLogsCall(h)
	assert.Equal(t, http.StatusOK, status, "a new token works")
}

func TestSlowResponsesAreDelayed(t *testing.T) {
	h := newFakeHarness(t, Options{Faults: Faults{SlowResponses: 1, SlowBy: 150 * time.Millisecond}})
	h.bearer()
	start := time.Now()
	status, _ := urlLogsCall(h)
	require.Equal(t, http.StatusOK, status)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
}

func TestSlowResponseEndsWhenTheClientGivesUp(t *testing.T) {
	h := newFakeHarness(t, Options{Faults: Faults{SlowResponses: 1, SlowBy: time.Hour}})
	token := h.bearer()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.http.URL+"/api/ttp/url/get-logs", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	_, err = h.http.Client().Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// The handler noticed the cancellation rather than sleeping an hour: the server closes
	// promptly in Cleanup, and the stats record the abandoned request.
	require.Eventually(t, func() bool { return h.srv.Stats().Statuses[statusClientClosed] == 1 }, 5*time.Second, 10*time.Millisecond)
}

func TestHTMLErrorPagesAre502TextHTML(t *testing.T) {
	h := newFakeHarness(t, Options{Faults: Faults{HTMLErrorPages: 1}})
	resp := h.do(http.MethodPost, "/api/ttp/url/get-logs", apiBody(nil, "", nil))
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(b), "<html>")
}

func TestFailWith200EchoesTheRequestItem(t *testing.T) {
	h := newFakeHarness(t, Options{Faults: Faults{FailWith200: 1}})
	item := map[string]any{"from": "2020-01-01T00:00:00+0000", "route": "inbound"}
	status, body := h.post("/api/ttp/url/get-logs", apiBody(nil, "", item))
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, body["data"])
	fails := body["fail"].([]any)
	require.Len(t, fails, 1)
	f := fails[0].(map[string]any)
	assert.JSONEq(t, mustJSON(t, item), mustJSON(t, f["key"]))
	e := f["errors"].([]any)[0].(map[string]any)
	assert.NotEmpty(t, e["code"])
	assert.NotEmpty(t, e["message"])
	assert.Equal(t, false, e["retryable"])
}

func TestFailWith200SparesRESTEndpoints(t *testing.T) {
	h := newFakeHarness(t, Options{Faults: Faults{FailWith200: 1}})
	status, _ := h.get("/threats/v1/events", map[string][]string{"timestampRangeStartsAt": {"2020-01-01T00:00:00Z"}})
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, 1, h.srv.Faults().FailWith200, "the knob waits for an /api/* call")
}

func TestResetMidBodyCutsTheConnection(t *testing.T) {
	h := newFakeHarness(t, Options{Faults: Faults{ResetMidBody: 1}})
	resp := h.do(http.MethodPost, "/api/ttp/url/get-logs", apiBody(50, "", map[string]any{"from": "2020-01-01T00:00:00+0000"}))
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "headers arrive intact")
	_, err := io.ReadAll(resp.Body)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)

	status, _ := urlLogsCall(h)
	assert.Equal(t, http.StatusOK, status, "the next call is whole")
}

func TestDuplicateAcrossPagesRepeatsThePreviousLastRecord(t *testing.T) {
	h := newFakeHarness(t, Options{})
	item := map[string]any{"from": "2020-01-01T00:00:00+0000"}
	_, p1 := h.post("/api/ttp/url/get-logs", apiBody(3, "", item))
	recs1 := namedRecords("clickLogs")(t, p1["data"].([]any))
	next := p1["meta"].(map[string]any)["pagination"].(map[string]any)["next"].(string)

	h.srv.SetFaults(Faults{DuplicateAcrossPages: 1})
	_, p2 := h.post("/api/ttp/url/get-logs", apiBody(3, next, item))
	recs2 := namedRecords("clickLogs")(t, p2["data"].([]any))
	require.Len(t, recs2, 4, "the repeated record comes on top of a full page")
	assert.Equal(t, mustJSON(t, recs1[2]), mustJSON(t, recs2[0]))

	_, p2again := h.post("/api/ttp/url/get-logs", apiBody(3, next, item))
	assert.Equal(t, mustJSON(t, recs2[1:]), mustJSON(t, namedRecords("clickLogs")(t, p2again["data"].([]any))),
		"without the fault the same page has no repeat")
}

func TestTokenEndpointDownFault(t *testing.T) {
	h := newFakeHarness(t, Options{Faults: Faults{TokenEndpointDown: 1}})
	status, body := h.issueToken(DefaultClientID, DefaultClientSecret)
	require.Equal(t, http.StatusServiceUnavailable, status)
	gatewayFail(t, body)
	status, _ = h.issueToken(DefaultClientID, DefaultClientSecret)
	assert.Equal(t, http.StatusOK, status)
}

func TestConcurrentRequestsTakeExactlyTheInjectedFaults(t *testing.T) {
	h := newFakeHarness(t, Options{Faults: Faults{ServerErrors: 5}})
	h.bearer()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 20 {
		wg.Go(func() {
			resp := h.do(http.MethodPost, "/api/ttp/url/get-logs", apiBody(nil, "", nil))
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, map[int]int{http.StatusInternalServerError: 5, http.StatusOK: 15}, codes)
}

func TestSetFaultsReplacesKnobsAndFillsDefaults(t *testing.T) {
	h := newFakeHarness(t, Options{Faults: Faults{ServerErrors: 3}})
	h.srv.SetFaults(Faults{RateLimitBurst: 1})
	f := h.srv.Faults()
	assert.Zero(t, f.ServerErrors)
	assert.Equal(t, 1, f.RateLimitBurst)
	assert.Equal(t, RateLimitHeadersReset, f.RateLimitHeaders)
	assert.Equal(t, 1000, f.RateLimitResetMs)
	assert.Equal(t, 2*time.Second, f.SlowBy)
}

func TestControlEndpointSetsFaultsFromOutside(t *testing.T) {
	h := newFakeHarness(t, Options{})
	raw, err := json.Marshal(Faults{ServerErrors: 1})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, h.http.URL+"/_fake/faults", bytes.NewReader(raw))
	require.NoError(t, err)
	resp, err := h.http.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	status, _ := urlLogsCall(h)
	assert.Equal(t, http.StatusInternalServerError, status)

	resp, err = h.http.Client().Get(h.http.URL + "/_fake/stats")
	require.NoError(t, err)
	var st Stats
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	resp.Body.Close()
	assert.Equal(t, 1, st.Calls["/api/ttp/url/get-logs"])
}
