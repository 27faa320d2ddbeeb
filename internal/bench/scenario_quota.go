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
// calls at L per fixed window W is (ceil(C/L) - 1) x W: the run can start at the very end of a
// window, and the last window is entered, not waited out.
func runQuota(ctx context.Context, e *env) error {
	p := e.plan
	expected := int64(len(ttpFeeds) * p.QuotaPerFeed)
	if err := drainThreats(ctx, e, "mimecast_threats under quota", ttpFeeds, nil, expected); err != nil {
		return err
	}
	pages := len(ttpFeeds) * ceilDiv(p.QuotaPerFeed, apiPageSize)
	minWindows := ceilDiv(pages, p.QuotaLimit) - 1
	wall := e.res.Phases[0].Wall
	e.figure("quota_limit", float64(p.QuotaLimit))
	e.figure("quota_window_s", p.QuotaWindow.Seconds())
	e.figure("pages_needed", float64(pages))
	e.figure("min_time_s", (time.Duration(minWindows) * p.QuotaWindow).Seconds())
	// Windows the run touched: the 429s are judged against these.
	e.figure("windows", math.Ceil(wall.Seconds()/p.QuotaWindow.Seconds())+1)
	e.figure("rate_limited", float64(e.res.Fake.RateLimited))
	return nil
}

func ceilDiv(a, b int) int {
	if b <= 0 {
		return 0
	}
	return (a + b - 1) / b
}
