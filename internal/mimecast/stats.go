package mimecast

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Stats are the client's totals since New. Every HTTP attempt counts, retries, token requests
// and downloads included.
type Stats struct {
	Calls         int64 // HTTP attempts
	HTTPErrors    int64 // answers with status >= 400 (429s included)
	NetworkErrors int64 // attempts without an answer: connection failures, timeouts
	RateLimited   int64 // 429 answers
	Retries       int64 // attempts repeated by the retry layer
	TokenFetches  int64 // requests to the token endpoint
}

type counters struct {
	calls, httpErrors, networkErrors, rateLimited, retries, tokenFetches atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Calls:         c.calls.Load(),
		HTTPErrors:    c.httpErrors.Load(),
		NetworkErrors: c.networkErrors.Load(),
		RateLimited:   c.rateLimited.Load(),
		Retries:       c.retries.Load(),
		TokenFetches:  c.tokenFetches.Load(),
	}
}

// statsTransport counts every attempt and reports it to Config.Metrics. It sits below pacing and
// the rate_limit hook, so the duration is the server's time, not time spent waiting for quota.
type statsTransport struct {
	next    http.RoundTripper
	counts  *counters
	metrics Metrics
}

func (t *statsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	d := time.Since(start)
	endpoint := endpointOf(req)
	t.counts.calls.Add(1)
	if err != nil {
		t.counts.networkErrors.Add(1)
		t.metrics.Call(endpoint, "error", d)
		return nil, err
	}
	if resp.StatusCode >= 400 {
		t.counts.httpErrors.Add(1)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		t.counts.rateLimited.Add(1)
		t.metrics.RateLimited(endpoint)
	}
	t.metrics.Call(endpoint, strconv.Itoa(resp.StatusCode), d)
	return resp, nil
}

// logStats writes the totals every interval until ctx ends: the figures a user looks at first
// when a pipeline seems slow (is it the quota?).
func logStats(ctx context.Context, interval time.Duration, counts *counters, log Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last := counts.snapshot()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s := counts.snapshot()
		rate := float64(s.Calls-last.Calls) / interval.Seconds()
		log.Infof("mimecast client: %d calls (%.2f/s over the last %s), %d HTTP errors, %d rate limited (429), %d retries, %d network errors, %d token requests",
			s.Calls, rate, interval, s.HTTPErrors, s.RateLimited, s.Retries, s.NetworkErrors, s.TokenFetches)
		last = s
	}
}
