package mimecastfake

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The benchmarks serve one full page of each threat feed through the whole handler
// (middleware included) of a tenant the size of the benchmark harness's drain, and report the
// cost per event: the fake shares the machine with the input being measured, so what it spends
// per event caps what the drain can show.
//
//	go test -run '^$' -bench FeedPage -benchmem ./internal/mimecastfake/

const benchEventsPerFeed = 100_000

func benchFeedPage(b *testing.B, events int, req func() *http.Request) {
	b.Helper()
	b.ReportAllocs()
	served := 0
	for b.Loop() {
		rec := httptest.NewRecorder()
		benchServer.ServeHTTP(rec, req())
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		served += rec.Body.Len()
	}
	// MB/s is of the bytes on the wire (gzip for batch files); B/op includes the recorder's
	// copy of the body.
	b.SetBytes(int64(served / b.N))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(events), "ns/event")
}

var (
	benchServer *Server
	benchToken  string
)

func benchSetup(b *testing.B) {
	b.Helper()
	if benchServer == nil {
		c := newDirectClient(b, feedPagesOptions(benchEventsPerFeed))
		benchServer, benchToken = c.srv, c.token
	}
}

func benchAPIRequest(path string, pageSize int) func() *http.Request {
	body := string(apiPageBody(pageSize, "", map[string]any{"from": feedPagesAnchor.Add(-72 * time.Hour).Format(apiTimeLayout)}))
	return func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+benchToken)
		return r
	}
}

func benchGetRequest(target string, auth bool) func() *http.Request {
	return func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		if auth {
			r.Header.Set("Authorization", "Bearer "+benchToken)
		}
		return r
	}
}

func BenchmarkFeedPage(b *testing.B) {
	benchSetup(b)
	threatsFrom := feedPagesAnchor.Add(-72 * time.Hour).Format(threatTimeLayout)
	b.Run("url", func(b *testing.B) { benchFeedPage(b, 500, benchAPIRequest("/api/ttp/url/get-logs", 500)) })
	b.Run("attachment", func(b *testing.B) {
		benchFeedPage(b, 500, benchAPIRequest("/api/ttp/attachment/get-logs", 500))
	})
	b.Run("impersonation", func(b *testing.B) {
		benchFeedPage(b, 500, benchAPIRequest("/api/ttp/impersonation/get-logs", 500))
	})
	b.Run("threats", func(b *testing.B) {
		q := url.Values{"timestampRangeStartsAt": {threatsFrom}, "pageSize": {"100"}}
		benchFeedPage(b, 100, benchGetRequest("/threats/v1/events?"+q.Encode(), true))
	})
	b.Run("siem_list", func(b *testing.B) {
		benchFeedPage(b, 100*500, benchGetRequest("/siem/v1/batch/events/cg?type=av&pageSize=100", true))
	})
	b.Run("siem_file", func(b *testing.B) {
		// One file of each of the drain's six threat types, 500 events each, in turn.
		var files []string
		for _, typ := range []string{"av", "spam", "internal email protect", "impersonation protect", "url protect", "attachment protect"} {
			rec := httptest.NewRecorder()
			q := url.Values{"type": {typ}, "pageSize": {"1"}}
			benchServer.ServeHTTP(rec, benchGetRequest("/siem/v1/batch/events/cg?"+q.Encode(), true)())
			require.Equal(b, http.StatusOK, rec.Code)
			files = append(files, batchFileURLs(b, rec.Body.Bytes())...)
		}
		require.Len(b, files, 6)
		k := 0
		benchFeedPage(b, 500, func() *http.Request {
			k++
			return benchGetRequest(files[k%len(files)], false)()
		})
	})
	b.Run("siem_stream", func(b *testing.B) {
		benchFeedPage(b, 100, benchGetRequest("/siem/v1/events/cg?pageSize=100", true))
	})
}
