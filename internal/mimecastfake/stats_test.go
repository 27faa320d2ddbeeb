package mimecastfake

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatsCountCallsStatusesAndTokens(t *testing.T) {
	h := newFakeHarness(t, Options{Faults: Faults{ServerErrors: 1}})
	urlLogsCall(h)
	urlLogsCall(h)
	h.get("/threats/v1/events", map[string][]string{"timestampRangeStartsAt": {"2020-01-01T00:00:00Z"}})
	decodeResponse(t, h.doWith("", http.MethodPost, "/api/ttp/url/get-logs", nil))

	st := h.srv.Stats()
	assert.Equal(t, map[string]int{"/oauth/token": 1, "/api/ttp/url/get-logs": 3, "/threats/v1/events": 1}, st.Calls)
	assert.Equal(t, map[int]int{http.StatusOK: 3, http.StatusInternalServerError: 1, http.StatusUnauthorized: 1}, st.Statuses)
	assert.Equal(t, map[int]int{http.StatusOK: 1, http.StatusInternalServerError: 1, http.StatusUnauthorized: 1},
		st.EndpointStatuses["/api/ttp/url/get-logs"])
	assert.Equal(t, 1, st.TokensIssued)

	h.srv.ResetStats()
	st = h.srv.Stats()
	assert.Empty(t, st.Calls)
	assert.Zero(t, st.TokensIssued)
}

func TestStatsCountPagesServedTwice(t *testing.T) {
	h := newFakeHarness(t, Options{})
	item := map[string]any{"from": "2020-01-01T00:00:00+0000"}
	_, p1 := h.post("/api/ttp/url/get-logs", apiBody(10, "", item))
	h.post("/api/ttp/url/get-logs", apiBody(10, "", item))
	assert.Zero(t, h.srv.Stats().PagesServedTwice, "starting a crawl again is not a re-fetch")

	next := p1["meta"].(map[string]any)["pagination"].(map[string]any)["next"].(string)
	h.post("/api/ttp/url/get-logs", apiBody(10, next, item))
	h.post("/api/ttp/url/get-logs", apiBody(10, next, item))
	h.post("/api/ttp/url/get-logs", apiBody(10, next, item))
	assert.Equal(t, 1, h.srv.Stats().PagesServedTwice, "one page, however often it was repeated")
}

func TestStatsRecordHighestConcurrency(t *testing.T) {
	// Slow responses hold three requests open together on the server.
	h := newFakeHarness(t, Options{Faults: Faults{SlowResponses: 3, SlowBy: 300 * time.Millisecond}})
	h.bearer()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			resp := h.do(http.MethodPost, "/api/ttp/url/get-logs", apiBody(nil, "", nil))
			resp.Body.Close()
		})
	}
	wg.Wait()
	require.Equal(t, 3, h.srv.Stats().MaxConcurrent)
	urlLogsCall(h)
	assert.Equal(t, 3, h.srv.Stats().MaxConcurrent, "the high-water mark stays")
}

func TestPagesServedTwiceCoversRESTAndOtherLists(t *testing.T) {
	h := newFakeHarness(t, Options{})
	_, body := h.get("/threats/v1/events", since(url.Values{"pageSize": {"10"}}))
	next := body["meta"].(map[string]any)["pagination"].(map[string]any)["next"].(string)
	h.get("/threats/v1/events", since(url.Values{"pageSize": {"10"}, "nextPage": {next}}))
	h.get("/threats/v1/events", since(url.Values{"pageSize": {"10"}, "nextPage": {next}}))
	require.Equal(t, 1, h.srv.Stats().PagesServedTwice)

	_, body = h.post("/api/user/get-internal-users", apiBody(5, "", nil))
	next, _ = body["meta"].(map[string]any)["pagination"].(map[string]any)["next"].(string)
	require.NotEmpty(t, next)
	h.post("/api/user/get-internal-users", apiBody(5, next, nil))
	h.post("/api/user/get-internal-users", apiBody(5, next, nil))
	assert.Equal(t, 2, h.srv.Stats().PagesServedTwice)

	h.srv.SetFaults(Faults{FailWith200: 1})
	_, body = h.post("/api/ttp/url/get-logs", apiBody(5, "", since2020))
	h.post("/api/ttp/url/get-logs", apiBody(5, "bogus", since2020))
	h.post("/api/ttp/url/get-logs", apiBody(5, "bogus", since2020))
	assert.Equal(t, 2, h.srv.Stats().PagesServedTwice, "failed calls serve no page")
}

func TestPollingACaughtUpCursorIsNotAPageServedTwice(t *testing.T) {
	s := New(Options{Seed: 1})
	s.notePageServed("/siem/v1/batch/events/cg", "tok-last", true)
	s.notePageServed("/siem/v1/batch/events/cg", "tok-last", true)
	assert.Zero(t, s.Stats().PagesServedTwice, "an empty caught-up page polled again")
	s.notePageServed("/siem/v1/batch/events/cg", "tok-full", false)
	s.notePageServed("/siem/v1/batch/events/cg", "tok-full", false)
	s.notePageServed("/siem/v1/batch/events/cg", "tok-full", false)
	assert.Equal(t, 1, s.Stats().PagesServedTwice, "a page with records fetched again counts once")
}
