// Package mimecast is a client for the Mimecast API 2.0: OAuth2 client credentials, the /api/*
// envelope, the REST-style SIEM and threats endpoints, and the pre-signed SIEM batch files.
//
// The client is built from layers that each do one thing (see transport_*.go): authentication,
// retries, quota pacing, the Benthos rate_limit hook, tracing and statistics. Typed, tolerant
// decoders for each endpoint live in endpoint_*.go.
package mimecast

import (
	"context"
	"crypto/tls"
	"time"
)

// Trace levels for Config.TraceLevel.
const (
	TraceNone  = "none"
	TraceCalls = "calls"
	TraceAll   = "all"
)

// DefaultAPIURL is the global Mimecast API 2.0 host.
const DefaultAPIURL = "https://api.services.mimecast.com"

// Logger is the subset of a logger the client writes to; *service.Logger satisfies it.
type Logger interface {
	Debugf(format string, args ...any)
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
	Errorf(format string, args ...any)
}

// Metrics receives the client's call statistics; the Benthos glue adapts service.Metrics to it.
// endpoint is the request path (for pre-signed downloads: "siem_batch_file"), status the HTTP
// status code as a string or "error" for a transport failure.
type Metrics interface {
	Call(endpoint, status string, d time.Duration)
	RateLimited(endpoint string)
	Retry(endpoint, reason string)
}

// Config holds everything a Client needs. Zero values mean the documented defaults (see
// (*Config).withDefaults).
type Config struct {
	APIURL       string // default DefaultAPIURL
	AuthURL      string // default APIURL + "/oauth/token"
	ClientID     string
	ClientSecret string

	// TokenExpiryOffset is added to a token's expiry time: a negative value refreshes earlier.
	// Default -60s.
	TokenExpiryOffset time.Duration

	PageSize             int           // default 100
	RetryAfterMultiplier float64       // default 1
	MaxRetryWait         time.Duration // cap on any single wait for a 429 or backoff; default 5m
	MaxRetries           int           // default 5; 0 is replaced by the default, use -1 for none
	Timeout              time.Duration // per HTTP attempt; default 60s
	MaxBodyBytes         int64         // cap on a JSON body; default 64 MiB

	TraceLevel    string        // none | calls | all; default none
	StatsInterval time.Duration // 0 disables the periodic stats log line

	// RateLimit, when set, is called before every HTTP call (API and downloads) and must block
	// until the call may go ahead. The Benthos glue waits on a rate_limit resource here.
	RateLimit func(ctx context.Context) error

	TLSConfig *tls.Config // nil = Go's defaults (verification on)
	ProxyURL  string      // empty = http.ProxyFromEnvironment

	Logger  Logger  // nil = discard
	Metrics Metrics // nil = discard

	// Clock hooks for tests; nil = real time.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}
