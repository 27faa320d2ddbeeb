// Package mimecastfake is a simulated Mimecast API 2.0 tenant: an http.Handler that serves a
// deterministic, seeded account with the shapes Mimecast documents and integrators recorded. Every test,
// the demo pipeline and the benchmarks run against it.
//
// It is written from those public sources, independently of internal/mimecast: it must never import the
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
	EventsPerFeed      int           // backlog per feed (and per SIEM type) before Anchor; default 100, -1 for none
	LiveEventsPerHour  int           // new events per feed per hour after Anchor; default 0, at most 1800
	Span               time.Duration // backlog spread over [Anchor-Span, Anchor]; default 72h
	SIEMEventsPerFile  int           // events per SIEM batch file (fewer in the last file of a window); default 500
	SIEMLinePadBytes   int           // pads every SIEM batch file line with a "_pad" string of this many bytes (huge records); 0: none
	// SIEMBatchWindow is how often live SIEM batch files appear: the events of each window
	// after Anchor are listed once it has closed. Default 15m, as integrators observe; shorter makes a
	// run of a few minutes see new files.
	SIEMBatchWindow time.Duration
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
	// ones after. Default: Now() (the injected clock, else time.Now()) truncated to the minute.
	// IDs never depend on it.
	Anchor time.Time
	// Now is the clock used for token expiry, quota windows, URL expiry and live records.
	Now func() time.Time
	// ThreatsShape picks the response shape of GET /threats/v1/events, which no public source
	// confirms: ThreatsShapeData (default) or ThreatsShapeEvents.
	ThreatsShape string
	// ArchiveSearchFlat makes /api/archive/search answer with the documented flat data[] of
	// messages instead of the data[0].items wrapper real tenants send (Mimecast API docs), to test a
	// client's tolerance of both.
	ArchiveSearchFlat bool
	// SIEMURLTTL is how long the pre-signed SIEM batch file URLs stay valid; default 15m.
	SIEMURLTTL time.Duration
	// Latency is how long the tenant takes to answer, as a real one across the internet does.
	Latency Latency
}

// Latency delays every answer by a fixed time and a uniform random jitter on top, separately
// for API calls (the token endpoint included) and for downloads of pre-signed files. The zero
// value answers at once.
type Latency struct {
	API, APIJitter           time.Duration
	Download, DownloadJitter time.Duration
}

// Shapes of GET /threats/v1/events (see Options.ThreatsShape).
const (
	// ThreatsShapeData is {"data":[...],"meta":{"pagination":{"pageSize","totalCount","next"}}}.
	ThreatsShapeData = "data"
	// ThreatsShapeEvents is {"events":[...],"total":N,"nextPage":"..."}.
	ThreatsShapeEvents = "events"
)

// withDefaults fills every zero field with its documented default. It never mutates o's slices.
func (o Options) withDefaults() Options {
	if len(o.Clients) == 0 {
		o.Clients = []ClientApp{{ID: DefaultClientID, Secret: DefaultClientSecret}}
	} else {
		o.Clients = append([]ClientApp(nil), o.Clients...)
	}
	for i := range o.Clients {
		if o.Clients[i].Products == nil {
			o.Clients[i].Products = AllProducts
		}
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = 30 * time.Minute
	}
	if o.Quota.Window <= 0 {
		o.Quota.Window = time.Minute
	}
	s := &o.Sizes
	if s.Domains <= 0 {
		s.Domains = 3
	}
	if s.LocalDomains <= 0 {
		s.LocalDomains = 1
	}
	if s.LocalDomains > s.Domains {
		s.LocalDomains = s.Domains
	}
	if s.UsersPerDomain <= 0 {
		s.UsersPerDomain = 5
	}
	if s.MessagesPerMailbox <= 0 {
		s.MessagesPerMailbox = 10
	}
	if s.AttachmentBytes <= 0 {
		s.AttachmentBytes = 2048
	}
	if s.LargeAttachmentPct < 0 {
		s.LargeAttachmentPct = 0
	}
	if s.EventsPerFeed < 0 {
		s.EventsPerFeed = 0
	} else if s.EventsPerFeed == 0 {
		s.EventsPerFeed = 100
	}
	// At most one live record per two seconds: records are timestamped in whole seconds.
	s.LiveEventsPerHour = min(max(s.LiveEventsPerHour, 0), 1800)
	if s.Span <= 0 {
		s.Span = 72 * time.Hour
	}
	if s.SIEMBatchWindow <= 0 {
		s.SIEMBatchWindow = siemDefaultBatchWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Anchor.IsZero() {
		// With an injected clock the anchor follows it, so tests see the backlog end at "now".
		o.Anchor = o.Now().Truncate(time.Minute)
	}
	o.Anchor = o.Anchor.UTC()
	if o.ThreatsShape == "" {
		o.ThreatsShape = ThreatsShapeData
	}
	o.Faults = o.Faults.withDefaults()
	return o
}
