package bench

import (
	"context"
	"math"
	"time"
)

// quotaFake is a tenant with QuotaLimit calls per QuotaWindow (the 60 a minute, with the
// window cut to 5 s at full size so that the run takes seconds, not minutes: the client's pacing
// reads the window from the headers, whatever its length; windows much under its one-second
// tolerance for a moving reset would measure that tolerance instead). headersAlways sends
// X-RateLimit-* on every answer; without it they come only with a 429, as Elastic's notes report
// for the real API 2.0.
func quotaFake(headersAlways bool) func(p plan, anchor time.Time) fakeSpec {
	return func(p plan, anchor time.Time) fakeSpec {
		return fakeSpec{
			Seed: 3, Anchor: anchor, EventsPerFeed: p.QuotaPerFeed, Span: backlogSpan,
			QuotaLimit: p.QuotaLimit, QuotaWindow: p.QuotaWindow, QuotaHeadersAlways: headersAlways,
		}
	}
}

// runQuota drains the three TTP feeds through the quota. The least time the quota allows for C
// calls at L per window is set by where the run starts in the fake's clock-aligned windows: L
// calls in the window it starts in, L in each next one, and the last window is entered, not
// waited out.
func runQuota(ctx context.Context, e *env) error {
	p := e.plan
	expected := int64(len(ttpFeeds) * p.QuotaPerFeed)
	if err := drainThreats(ctx, e, "mimecast_threats under quota", ttpFeeds, nil, expected); err != nil {
		return err
	}
	pages := len(ttpFeeds) * ceilDiv(p.QuotaPerFeed, apiPageSize)
	ph := e.res.Phases[0]
	wall := ph.Wall
	e.figure("quota_limit", float64(p.QuotaLimit))
	e.figure("quota_window_s", p.QuotaWindow.Seconds())
	e.figure("pages_needed", float64(pages))
	e.figure("min_time_s", quotaMinimum(ph.Start, pages, p.QuotaLimit, p.QuotaWindow).Seconds())
	// Windows the run touched: the 429s are judged against these.
	e.figure("windows", math.Ceil(wall.Seconds()/p.QuotaWindow.Seconds())+1)
	e.figure("rate_limited", float64(e.res.Fake.RateLimited))
	// The fake's windows are aligned to the clock (now truncated to the window), which this
	// process shares: group the 429s by window.
	at, err := e.fake.rateLimitedAt(ctx)
	if err != nil {
		return err
	}
	perWindow := map[time.Time]int{}
	var first time.Time
	for _, t := range at {
		w := t.Truncate(p.QuotaWindow)
		perWindow[w]++
		if first.IsZero() || w.Before(first) {
			first = w
		}
	}
	// The window of the first 429 is where a client that gets headers only with a 429 learns
	// the quota: every call already in flight when it runs out is refused too. The target is
	// judged on the windows after it, where the client knows the limit and the reset.
	most, later := 0, 0
	for w, n := range perWindow {
		most = max(most, n)
		if !w.Equal(first) {
			later = max(later, n)
		}
	}
	e.figure("max_429_per_window", float64(most))
	e.figure("first_window_429", float64(perWindow[first]))
	e.figure("max_429_per_later_window", float64(later))
	return nil
}

// quotaMinimum is the least time calls need at limit per window when they start at start.
func quotaMinimum(start time.Time, calls, limit int, window time.Duration) time.Duration {
	windows := ceilDiv(calls, limit)
	if windows <= 1 {
		return 0
	}
	firstEnd := start.Truncate(window).Add(window)
	return firstEnd.Sub(start) + time.Duration(windows-2)*window
}

func ceilDiv(a, b int) int {
	if b <= 0 {
		return 0
	}
	return (a + b - 1) / b
}
