package mimecastfake

import (
	"net/http"
	"strconv"
	"time"
)

// quotaWindow is one client's fixed rate-limit window.
type quotaWindow struct {
	start time.Time
	used  int
}

// quotaState is the outcome of charging a call against a client's quota.
type quotaState struct {
	allowed   bool
	limit     int
	remaining int
	reset     time.Duration // until the window rolls over
}

// chargeQuota counts one call against clientID's fixed window (Quota.Window, aligned to the
// clock so that a test can predict the reset). A rejected call is not charged: the API documents
// that a 429 means the function was not executed.
func (s *Server) chargeQuota(clientID string) quotaState {
	q := s.opts.Quota
	if q.Limit <= 0 {
		return quotaState{allowed: true}
	}
	now := s.now()
	start := now.Truncate(q.Window)
	s.quotaMu.Lock()
	defer s.quotaMu.Unlock()
	win := s.quotas[clientID]
	if win == nil || !win.start.Equal(start) {
		win = &quotaWindow{start: start}
		s.quotas[clientID] = win
	}
	st := quotaState{limit: q.Limit, reset: start.Add(q.Window).Sub(now)}
	if win.used >= q.Limit {
		return st
	}
	win.used++
	st.allowed = true
	st.remaining = q.Limit - win.used
	return st
}

// setRateLimitHeaders writes the X-RateLimit-* trio; Reset is in milliseconds, per the 1.0 docs.
func setRateLimitHeaders(h http.Header, limit, remaining int, reset time.Duration) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(ceilDiv(reset, time.Millisecond), 10))
}

// setRetryAfter writes Retry-After in whole seconds, rounded up so a client that obeys it never
// comes back early.
func setRetryAfter(h http.Header, d time.Duration) {
	h.Set("Retry-After", strconv.FormatInt(max(1, ceilDiv(d, time.Second)), 10))
}

func ceilDiv(d, unit time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + unit - 1) / unit)
}

func writeRateLimited(w http.ResponseWriter) {
	writeGatewayFail(w, http.StatusTooManyRequests, "rate_limit_exceeded",
		"The rate limit for this application has been exceeded, please wait before retrying")
}
