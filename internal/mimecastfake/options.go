// Package mimecastfake is a simulated Mimecast API 2.0 tenant: an http.Handler that serves a
// deterministic, seeded account with the shapes described in shared/mimecast-api.md. Every test,
// the demo pipeline and the benchmarks run against it.
//
// It is written from the API notes, independently of internal/mimecast: it must never import the
// client's request or response types, so that a shape both sides get wrong cannot pass unseen.
//
// Records are generated from (seed, feed, index) on demand, so a tenant of a million events costs
// no memory until a page of it is requested.
package mimecastfake

import "time"

// Products a client can be granted. A request to an endpoint of a product the client lacks gets
// 403 {"fail":[{"code":"app_forbidden",...}]}.
const (
	ProductDirectory         = "directory"          // /api/domain/*, /api/user/*
	ProductSIEM              = "siem"               // /siem/v1/*
	ProductThreats           = "threats"            // /threats/v1/*
	ProductURLProtect        = "url_protect"        // /api/ttp/url/get-logs
	ProductAttachmentProtect = "attachment_protect" // /api/ttp/attachment/get-logs
	ProductImpersonation     = "impersonation"      // /api/ttp/impersonation/get-logs
	ProductHeld              = "held"               // /api/gateway/get-hold-message-list, get-held-release-logs
	ProductTracking          = "tracking"           // /api/message-finder/*
	ProductArchive           = "archive"            // /api/archive/search, get-message-list, get-message-detail
	ProductContentView       = "content_view"       // /api/archive/get-message-part, get-file
	ProductAccount           = "account"            // /api/account/get-account
)

// AllProducts lists every product; the default client is granted all of them.
var AllProducts = []string{
	ProductDirectory, ProductSIEM, ProductThreats, ProductURLProtect, ProductAttachmentProtect,
	ProductImpersonation, ProductHeld, ProductTracking, ProductArchive, ProductContentView, ProductAccount,
}

// Default credentials of the client every fake tenant knows.
const (
	DefaultClientID     = "fake-client-id"
	DefaultClientSecret = "fake-client-secret"
)

// ClientApp is one registered API 2.0 application.
type ClientApp struct {
	ID       string
	Secret   string
	Products []string // nil = AllProducts
}

// Quota is the per-client rate limit. Limit 0 = unlimited.
type Quota struct {
	Limit  int           // calls per Window
	Window time.Duration // default 1m
	// HeadersAlways sends X-RateLimit-* on every response; otherwise only on a 429, as the real
	// API 2.0 does according to Elastic's notes.
	HeadersAlways bool
	// RetryAfter adds a Retry-After header (seconds) to 429 responses.
	RetryAfter bool
}

// Sizes shape the generated tenant.
type Sizes struct {
	Domains            int           // internal domains; default 3
	LocalDomains       int           // of those, how many are "local": true; default 1
	UsersPerDomain     int           // default 5
	MessagesPerMailbox int           // archive messages per user; default 10
	AttachmentBytes    int           // size of a typical attachment; default 2048
	LargeAttachmentPct int           // percent of attachments that are 5 MB; default 0
	EventsPerFeed      int           // backlog per feed (and per SIEM type) before Anchor; default 100
	LiveEventsPerHour  int           // new events per feed per hour after Anchor; default 0
	Span               time.Duration // backlog spread over [Anchor-Span, Anchor]; default 72h
}

// Options configure a fake tenant. The zero value is a small, healthy tenant with one client
// (DefaultClientID/DefaultClientSecret) granted every product.
type Options struct {
	Seed     int64
	Clients  []ClientApp
	TokenTTL time.Duration // default 30m; the token response reports TTL-1s as expires_in
	Quota    Quota
	Sizes    Sizes
	Faults   Faults
	// Anchor is the tenant's "now" at creation: backlog records are timestamped before it, live
	// ones after. Default: time.Now() truncated to the minute. IDs never depend on it.
	Anchor time.Time
	// Now is the clock used for token expiry, quota windows, URL expiry and live records.
	Now func() time.Time
}
