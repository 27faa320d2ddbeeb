package mimecast

import (
	"cmp"
	"context"
	"net/http"
	"sync"
	"time"
)

// paceTransport keeps the client inside Mimecast's quota, so that the retry layer's 429 handling
// is the exception. It learns the quota from X-RateLimit-Limit/Remaining/Reset on any answer
// (some tenants send them only with a 429) and holds calls back when little is left. One quota is
// shared by every goroutine of the client: the quota belongs to the API application.
//
// It also caps the calls in flight (max_in_flight): a 429 refuses every call already sent in
// its window, so after one the cap drops to a single call and grows back by one per answer that
// is not a 429 (additive increase, multiplicative decrease, as TCP does).
type paceTransport struct {
	next  http.RoundTripper
	quota *quota
	sleep func(ctx context.Context, d time.Duration) error
}

func (t *paceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	for {
		r := t.quota.reserve()
		switch {
		case r.changed != nil:
			select {
			case <-r.changed:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		case r.again:
			if err := t.sleep(ctx, r.delay); err != nil {
				return nil, err
			}
			continue
		}
		if r.delay > 0 {
			if err := t.sleep(ctx, r.delay); err != nil {
				t.quota.done(nil, r.probe)
				return nil, err
			}
		}
		resp, err := t.next.RoundTrip(req)
		t.quota.done(resp, r.probe)
		return resp, err
	}
}

// quota is the client's estimate of the application's call quota. remaining is kept
// conservative: the server's figure minus the calls still in flight (the server may or may not
// have counted them yet), and never raised within a window by an answer that arrives late.
type quota struct {
	now         func() time.Time
	maxWait     time.Duration
	maxInFlight int

	mu        sync.Mutex
	limit     int           // calls per window; 0 until a header says
	remaining int           // calls left in this window; -1 unknown (no pacing)
	resetAt   time.Time     // end of the window; zero unknown
	lastEnd   time.Time     // end of the window before, once one ended
	window    time.Duration // length of a window, once two ends were seen; 0 unknown
	nextAt    time.Time     // next free slot while spreading the last calls of a window
	inflight  int
	cap       int // calls allowed in flight now: maxInFlight, less after a 429
	probing   bool
	changed   chan struct{} // closed and replaced whenever an answer comes back
}

// reservation says what a call must do before it goes: wait for an answer to come back
// (changed), or sleep delay and then ask again (again) or go.
type reservation struct {
	delay   time.Duration
	again   bool
	changed <-chan struct{}
	probe   bool
}

// windowSlack: a Reset that moves the end of the window by more than this starts a new window;
// smaller moves are network latency.
const windowSlack = time.Second

// resetMargin is added to every window end the server announces.
const resetMargin = 50 * time.Millisecond

func newQuota(now func() time.Time, maxWait time.Duration, maxInFlight int) *quota {
	maxInFlight = max(maxInFlight, 1)
	return &quota{now: now, maxWait: maxWait, maxInFlight: maxInFlight, cap: maxInFlight, remaining: -1, changed: make(chan struct{})}
}

func (q *quota) reserve() reservation {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	if !q.resetAt.IsZero() && !now.Before(q.resetAt) {
		// A new window. With a known limit we can count it down ourselves; its end is unknown
		// until an answer says.
		q.lastEnd = q.resetAt
		q.resetAt, q.nextAt = time.Time{}, time.Time{}
		q.remaining = -1
		if q.limit > 0 {
			q.remaining = max(q.limit-q.inflight, 0)
		}
	}
	switch {
	case q.inflight >= q.cap:
		return reservation{changed: q.changed}
	case q.remaining < 0:
		q.inflight++
		return reservation{}
	case q.remaining == 0 && !q.resetAt.IsZero():
		return reservation{delay: q.resetAt.Sub(now), again: true}
	case q.remaining == 0:
		// The window's calls are used up but its end is unknown (the server sends headers only
		// with a 429): once every call already sent is back, let one call find out; hold the
		// others until it is back. A probe racing calls in flight could overtake one of them
		// and push it into a 429.
		if q.probing || q.inflight > 0 {
			return reservation{changed: q.changed}
		}
		q.probing = true
		q.inflight++
		return reservation{probe: true}
	}
	q.remaining--
	q.inflight++
	if q.resetAt.IsZero() || q.remaining >= max(1, q.limit/10) {
		return reservation{}
	}
	// Few calls left: spread them over the rest of the window rather than spend them at once,
	// which leaves room for other users of the same application.
	slot := now
	if q.nextAt.After(slot) {
		slot = q.nextAt
	}
	// This call and the remaining ones share what is left of the window equally.
	q.nextAt = slot.Add(q.resetAt.Sub(slot) / time.Duration(q.remaining+1))
	return reservation{delay: slot.Sub(now)}
}

// done records the end of a call and what its answer says about the quota.
func (q *quota) done(resp *http.Response, probe bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight--
	if resp != nil {
		q.observe(resp)
		if resp.StatusCode == http.StatusTooManyRequests {
			q.cap = 1
		} else if q.cap < q.maxInFlight {
			q.cap++
		}
	}
	if probe {
		// A probe that went through without headers proves little: the window may have rolled
		// over, or our count was too cautious. Keep probing one call at a time until a 429
		// tells where the window ends; that costs concurrency, never a burst of 429s.
		q.probing = false
	}
	close(q.changed)
	q.changed = make(chan struct{})
}

// rate is the calls per second the quota allows, as far as its headers told: its limit over a
// window's length, or over what is left of the current window while no window ended yet (which
// can only overstate it). False while no header gave a limit and a window's end.
func (q *quota) rate() (float64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	span := q.window
	if !q.resetAt.IsZero() {
		span = max(span, q.resetAt.Sub(q.now()))
	}
	if q.limit <= 0 || span <= 0 {
		return 0, false
	}
	return float64(q.limit) / span.Seconds(), true
}

// observe updates the estimate from an answer's headers.
func (q *quota) observe(resp *http.Response) {
	h := resp.Header
	now := q.now()
	limit, hasLimit := headerNumber(h, "X-RateLimit-Limit")
	rem, hasRem := headerNumber(h, "X-RateLimit-Remaining")
	resetMs, hasReset := headerNumber(h, "X-RateLimit-Reset")
	var reset time.Duration
	if hasReset {
		reset = time.Duration(max(resetMs, 0) * float64(time.Millisecond))
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		rem, hasRem = 0, true
		if !hasReset {
			if d, ok := serverWait(h, now); ok {
				reset = d
			} else {
				reset = rateLimitDefault
			}
			hasReset = true
		}
	}
	if !hasLimit && !hasRem && !hasReset {
		return
	}
	if hasLimit && limit >= 1 {
		q.limit = int(limit)
	}
	estimate := -1
	if hasRem {
		estimate = max(int(rem)-q.inflight, 0)
	}
	if hasReset {
		// resetMargin: the server rounds Reset down to the millisecond and its clock is not ours;
		// coming back a little late costs far less than a burst of 429s at the window's edge.
		resetAt := now.Add(min(reset+resetMargin, q.maxWait))
		if q.resetAt.IsZero() || resetAt.After(q.resetAt.Add(windowSlack)) {
			if end := cmp.Or(q.resetAt, q.lastEnd); !end.IsZero() && resetAt.Sub(end) > windowSlack {
				q.window = resetAt.Sub(end)
			}
			q.resetAt, q.nextAt = resetAt, time.Time{}
			if hasRem {
				q.remaining = estimate
			}
			return
		}
		if resetAt.After(q.resetAt) {
			q.resetAt = resetAt
		}
	}
	if hasRem && (q.remaining < 0 || estimate < q.remaining) {
		q.remaining = estimate
	}
}
