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
	"errors"
	"fmt"
	"net/url"
	"strings"
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
	// Default -60s (zero means the default; use 1ns to refresh exactly at expiry).
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

	// RefusePlainDownloads refuses pre-signed URLs that are plain http (SIEM batch files):
	// with TLS asked for, a file must not travel unencrypted unless the user opted in.
	RefusePlainDownloads bool

	// MaxInFlight caps the API calls of the application in flight at once (downloads of
	// pre-signed URLs are not API calls); default 16. After a 429 the cap drops to one call and
	// grows back by one with each answer that is not a 429, so that a quota running out refuses
	// as few calls as possible.
	MaxInFlight int

	Logger  Logger  // nil = discard
	Metrics Metrics // nil = discard

	// Clock hooks for tests; nil = real time. Now judges token expiry and quota windows; every
	// wait (backoff, 429, quota pacing) goes through Sleep, which must return ctx's error at once
	// when ctx ends.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Defaults applied by withDefaults.
const (
	defaultTokenExpiryOffset = -60 * time.Second
	defaultPageSize          = 100
	defaultMaxRetryWait      = 5 * time.Minute
	defaultMaxRetries        = 5
	defaultTimeout           = 60 * time.Second
	defaultMaxBodyBytes      = 64 << 20
	defaultMaxInFlight       = 16
	maxPageSize              = 500
)

// withDefaults fills zero fields with the documented defaults. It does not validate: see validate.
func (c *Config) withDefaults() {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	if c.AuthURL == "" {
		c.AuthURL = c.APIURL + "/oauth/token"
	}
	if c.TokenExpiryOffset == 0 {
		c.TokenExpiryOffset = defaultTokenExpiryOffset
	}
	if c.PageSize == 0 {
		c.PageSize = defaultPageSize
	}
	if c.RetryAfterMultiplier == 0 {
		c.RetryAfterMultiplier = 1
	}
	if c.MaxRetryWait == 0 {
		c.MaxRetryWait = defaultMaxRetryWait
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = defaultMaxRetries
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = defaultMaxBodyBytes
	}
	if c.TraceLevel == "" {
		c.TraceLevel = TraceNone
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = defaultMaxInFlight
	}
	if c.Logger == nil {
		c.Logger = nopLogger{}
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleepContext
	}
}

// ValidateConfig checks cfg as New does, without building a client.
func ValidateConfig(cfg Config) error {
	cfg.withDefaults()
	return cfg.validate()
}

// validate checks a Config after withDefaults. Errors name the Benthos field so that a user can
// find what to fix.
func (c *Config) validate() error {
	if err := checkHTTPURL(c.APIURL); err != nil {
		return fmt.Errorf("api_url: %w", err)
	}
	if err := checkHTTPURL(c.AuthURL); err != nil {
		return fmt.Errorf("auth_url: %w", err)
	}
	if strings.TrimSpace(c.ClientID) == "" {
		return errors.New("client_id: must not be empty")
	}
	if c.ClientSecret == "" {
		return errors.New("client_secret: must not be empty")
	}
	if c.PageSize < 1 || c.PageSize > maxPageSize {
		return fmt.Errorf("page_size: %d is out of range: use 1 to %d", c.PageSize, maxPageSize)
	}
	if c.RetryAfterMultiplier < 1 {
		return fmt.Errorf("retry_after_multiplier: %v is below 1", c.RetryAfterMultiplier)
	}
	if c.MaxRetries < -1 {
		return fmt.Errorf("max_retries: %d is negative", c.MaxRetries)
	}
	if c.MaxRetryWait < 0 {
		return fmt.Errorf("max_retry_wait: %v is negative", c.MaxRetryWait)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("timeout: %v is negative", c.Timeout)
	}
	if c.MaxBodyBytes < 0 {
		return fmt.Errorf("max_body_bytes: %d is negative", c.MaxBodyBytes)
	}
	switch c.TraceLevel {
	case TraceNone, TraceCalls, TraceAll:
	default:
		return fmt.Errorf("trace_level: %q is not one of %s, %s, %s", c.TraceLevel, TraceNone, TraceCalls, TraceAll)
	}
	if c.StatsInterval < 0 {
		return fmt.Errorf("stats_interval: %v is negative", c.StatsInterval)
	}
	if c.MaxInFlight < 1 {
		return fmt.Errorf("max_in_flight: %d is below 1", c.MaxInFlight)
	}
	if c.ProxyURL != "" {
		u, err := url.Parse(c.ProxyURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("proxy_url: %q is not an absolute URL such as http://proxy:3128", redactURL(c.ProxyURL))
		}
	}
	return nil
}

// retries is MaxRetries with -1 ("none") mapped to 0.
func (c *Config) retries() int {
	return max(c.MaxRetries, 0)
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", redactURL(raw))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL such as %s", redactURL(raw), DefaultAPIURL)
	}
	if u.User != nil {
		return errors.New("must not hold credentials: use client_id and client_secret")
	}
	return nil
}

// sleepContext is the real Config.Sleep: it returns early, with the context's error, when ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}

type nopMetrics struct{}

func (nopMetrics) Call(string, string, time.Duration) {}
func (nopMetrics) RateLimited(string)                 {}
func (nopMetrics) Retry(string, string)               {}
