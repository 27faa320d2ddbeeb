package mimecastfake

import (
	"net/http"
	"time"
)

// Values of Faults.RateLimitHeaders.
const (
	RateLimitHeadersReset      = "reset"       // X-RateLimit-Limit/Remaining/Reset (ms)
	RateLimitHeadersRetryAfter = "retry_after" // Retry-After (seconds) only
	RateLimitHeadersBoth       = "both"        // both of the above
	RateLimitHeadersNone       = "none"        // a bare 429, as integrators report some tenants send
)

// withDefaults fills the knobs that modify other knobs (header variant, reset, delay).
func (f Faults) withDefaults() Faults {
	if f.RateLimitHeaders == "" {
		f.RateLimitHeaders = RateLimitHeadersReset
	}
	if f.RateLimitResetMs <= 0 {
		f.RateLimitResetMs = 1000
	}
	if f.SlowBy <= 0 {
		f.SlowBy = 2 * time.Second
	}
	if f.HTMLErrorStatus < 400 || f.HTMLErrorStatus > 599 {
		f.HTMLErrorStatus = http.StatusBadGateway
	}
	return f
}

// faultKind names one counting knob of Faults, so handlers take a fault without touching the
// struct behind the mutex.
type faultKind int

const (
	faultRateLimitBurst faultKind = iota
	faultServerErrors
	faultExpireTokens
	faultSlowResponses
	faultTokenEndpointDown
	faultHTMLErrorPages
	faultFailWith200
	faultResetMidBody
	faultTruncatedGzip
	faultMalformedLines
	faultDuplicateURLs
	faultExpiredURLs
	faultDuplicateAcrossPages
	faultRefusePageTokens
	faultPageCycles
	faultUnverifiedTokens
	faultSIEMStalls
)

func (f *Faults) counter(k faultKind) *int {
	switch k {
	case faultRateLimitBurst:
		return &f.RateLimitBurst
	case faultServerErrors:
		return &f.ServerErrors
	case faultExpireTokens:
		return &f.ExpireTokens
	case faultSlowResponses:
		return &f.SlowResponses
	case faultTokenEndpointDown:
		return &f.TokenEndpointDown
	case faultHTMLErrorPages:
		return &f.HTMLErrorPages
	case faultFailWith200:
		return &f.FailWith200
	case faultResetMidBody:
		return &f.ResetMidBody
	case faultTruncatedGzip:
		return &f.TruncatedGzip
	case faultMalformedLines:
		return &f.MalformedLines
	case faultDuplicateURLs:
		return &f.DuplicateURLs
	case faultExpiredURLs:
		return &f.ExpiredURLs
	case faultDuplicateAcrossPages:
		return &f.DuplicateAcrossPages
	case faultRefusePageTokens:
		return &f.RefusePageTokens
	case faultPageCycles:
		return &f.PageCycles
	case faultUnverifiedTokens:
		return &f.UnverifiedTokens
	case faultSIEMStalls:
		return &f.SIEMStalls
	}
	panic("mimecastfake: unknown fault kind")
}

// SetFaults replaces every fault knob at run time. Counters start afresh, and the
// ServerErrorFor outage window starts now (Options.Now).
func (s *Server) SetFaults(f Faults) {
	f = f.withDefaults()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.faultsSetAt = s.now()
}

// Faults returns the current knobs, counters as far as they have counted down.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// takeFault consumes one unit of the counter k and reports whether this request gets the fault.
// Check and decrement happen under one lock, so N concurrent requests see exactly N faults.
func (s *Server) takeFault(k faultKind) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.faults.counter(k)
	if *c <= 0 {
		return false
	}
	*c--
	return true
}

// inOutage reports whether the ServerErrorFor window (measured from the last SetFaults or New)
// still covers now.
func (s *Server) inOutage() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.ServerErrorFor > 0 && s.now().Before(s.faultsSetAt.Add(s.faults.ServerErrorFor))
}

// faultSettings returns the non-counting knobs that shape an injected fault.
func (s *Server) faultSettings() (headers string, resetMs int, slowBy time.Duration, htmlStatus int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.RateLimitHeaders, s.faults.RateLimitResetMs, s.faults.SlowBy, s.faults.HTMLErrorStatus
}
