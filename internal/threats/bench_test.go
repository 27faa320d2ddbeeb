package threats

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// benchURLPage fetches one page of pageSize URL Protect clicks from the simulated tenant with
// the real client.
func benchURLPage(b *testing.B, pageSize int) []mimecast.URLClick {
	b.Helper()
	srv := httptest.NewServer(mimecastfake.New(mimecastfake.Options{Seed: 1, Sizes: mimecastfake.Sizes{EventsPerFeed: 2 * pageSize}}))
	b.Cleanup(srv.Close)
	c, err := mimecast.New(mimecast.Config{APIURL: srv.URL, ClientID: mimecastfake.DefaultClientID, ClientSecret: mimecastfake.DefaultClientSecret, PageSize: pageSize})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	page, err := c.URLClickLogsPage(ctx, mimecast.URLLogsRequest{From: time.Now().Add(-96 * time.Hour), OldestFirst: true}, "")
	if err != nil {
		b.Fatal(err)
	}
	if len(page.Items) != pageSize {
		b.Fatalf("got %d clicks, want %d", len(page.Items), pageSize)
	}
	return page.Items
}

func benchThreatsInput() *threatsInput {
	mgr := service.MockResources()
	return &threatsInput{cfg: &threatsConfig{}, log: mgr.Logger(), metrics: newThreatsMetrics(mgr.Metrics()), now: time.Now}
}

func classifyClick(c mimecast.URLClick, r *threatRecord) {
	r.threatType, r.status, r.source = "url", urlClickStatus(c.Action), feedURLProtect
}

// BenchmarkThreatsRecordURLPage turns a decoded 500-click page into the input's records: the
// event id (a content hash: clicks have none), time, Message-ID and classification.
func BenchmarkThreatsRecordURLPage(b *testing.B) {
	items := benchURLPage(b, 500)
	b.ReportAllocs()
	for b.Loop() {
		if recs := pageRecords(items, classifyClick); len(recs) != len(items) {
			b.Fatal("records lost")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(items)), "ns/record")
}

// BenchmarkThreatsAdmitURLPage is the per-record admit path of a 500-click page: dedupe against
// the seen ids, selections, and the Benthos message with its metadata.
func BenchmarkThreatsAdmitURLPage(b *testing.B) {
	recs := pageRecords(benchURLPage(b, 500), classifyClick)
	in := benchThreatsInput()
	src := in.window(feedURLProtect, feedURLProtect, 0, nil)
	b.ReportAllocs()
	for b.Loop() {
		seen := make(map[string]int64, len(recs))
		for i := range recs {
			if in.admit(src, &recs[i], seen) == nil {
				b.Fatal("a fresh record was not admitted")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(recs)), "ns/record")
}
