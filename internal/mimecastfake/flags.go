package mimecastfake

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// FlagAddr is the name of the listen-address flag of CLIFlags.
const FlagAddr = "addr"

// DefaultAddr is where fake-api listens unless told otherwise: loopback only.
const DefaultAddr = "127.0.0.1:8089"

// intKnob is a whole-number flag and the Options field it sets.
type intKnob struct {
	name, usage, category string
	def                   int
	set                   func(*Options, int)
}

// durationKnob is a duration flag and the Options field it sets.
type durationKnob struct {
	name, usage, category string
	def                   time.Duration
	set                   func(*Options, time.Duration)
}

const (
	catTenant  = "Tenant"
	catAuth    = "Authentication and quota"
	catLatency = "Latency"
	catFaults  = "Faults (counts apply to the next N matching requests)"
)

var intKnobs = []intKnob{
	{"domains", "internal domains", catTenant, 3, func(o *Options, v int) { o.Sizes.Domains = v }},
	{"local-domains", "of the domains, how many are local", catTenant, 1, func(o *Options, v int) { o.Sizes.LocalDomains = v }},
	{"users-per-domain", "users (mailboxes) per domain", catTenant, 5, func(o *Options, v int) { o.Sizes.UsersPerDomain = v }},
	{"messages-per-mailbox", "archived messages per mailbox", catTenant, 10, func(o *Options, v int) { o.Sizes.MessagesPerMailbox = v }},
	{"attachment-bytes", "typical attachment size", catTenant, 2048, func(o *Options, v int) { o.Sizes.AttachmentBytes = v }},
	{"large-attachment-pct", "percent of attachments that are 5 MB", catTenant, 0, func(o *Options, v int) { o.Sizes.LargeAttachmentPct = v }},
	{"events-per-feed", "backlog of every alert feed and SIEM type before the anchor (-1 for none)", catTenant, 100, func(o *Options, v int) { o.Sizes.EventsPerFeed = v }},
	{"live-events-per-hour", "new events per feed per hour after the anchor", catTenant, 0, func(o *Options, v int) { o.Sizes.LiveEventsPerHour = v }},
	{"quota-limit", "API calls per client per quota window (0 = unlimited)", catAuth, 0, func(o *Options, v int) { o.Quota.Limit = v }},

	{"fault-rate-limit-burst", "API calls answered 429", catFaults, 0, func(o *Options, v int) { o.Faults.RateLimitBurst = v }},
	{"fault-rate-limit-reset-ms", "X-RateLimit-Reset (ms) of injected 429s; Retry-After is derived from it", catFaults, 1000, func(o *Options, v int) { o.Faults.RateLimitResetMs = v }},
	{"fault-server-errors", "API calls answered 500", catFaults, 0, func(o *Options, v int) { o.Faults.ServerErrors = v }},
	{"fault-expire-tokens", "API calls answered 401 token_expired (the token is revoked)", catFaults, 0, func(o *Options, v int) { o.Faults.ExpireTokens = v }},
	{"fault-unverified-tokens", "API calls answered with a transient 401 (token_verification_failed / Unauthorized Request); the token stays valid", catFaults, 0, func(o *Options, v int) { o.Faults.UnverifiedTokens = v }},
	{"fault-html-error-status", "HTTP status of the --fault-html-error-pages answers (0 = 502)", catFaults, 0, func(o *Options, v int) { o.Faults.HTMLErrorStatus = v }},
	{"fault-slow-responses", "API calls delayed by --fault-slow-by", catFaults, 0, func(o *Options, v int) { o.Faults.SlowResponses = v }},
	{"fault-token-endpoint-down", "token requests answered 503", catFaults, 0, func(o *Options, v int) { o.Faults.TokenEndpointDown = v }},
	{"fault-html-error-pages", "API calls answered with an HTML error page (see --fault-html-error-status)", catFaults, 0, func(o *Options, v int) { o.Faults.HTMLErrorPages = v }},
	{"fault-fail-with-200", "/api/* calls answered HTTP 200 with a fail[] entry", catFaults, 0, func(o *Options, v int) { o.Faults.FailWith200 = v }},
	{"fault-reset-mid-body", "API responses cut off mid-body", catFaults, 0, func(o *Options, v int) { o.Faults.ResetMidBody = v }},
	{"fault-truncated-gzip", "SIEM batch files cut mid-stream", catFaults, 0, func(o *Options, v int) { o.Faults.TruncatedGzip = v }},
	{"fault-malformed-lines", "SIEM batch files with one malformed JSON line", catFaults, 0, func(o *Options, v int) { o.Faults.MalformedLines = v }},
	{"fault-duplicate-urls", "SIEM listing pages repeating one URL", catFaults, 0, func(o *Options, v int) { o.Faults.DuplicateURLs = v }},
	{"fault-expired-urls", "SIEM listing pages with already expired URLs", catFaults, 0, func(o *Options, v int) { o.Faults.ExpiredURLs = v }},
	{"fault-duplicate-across-pages", "follow-up list pages repeating the previous page's last record", catFaults, 0, func(o *Options, v int) { o.Faults.DuplicateAcrossPages = v }},
	{"fault-refuse-page-tokens", "follow-up list pages refused with 400 err_invalid_page_token", catFaults, 0, func(o *Options, v int) { o.Faults.RefusePageTokens = v }},
	{"fault-page-cycles", "follow-up list pages (SIEM listings too) whose next token points back at the page before", catFaults, 0, func(o *Options, v int) { o.Faults.PageCycles = v }},
	{"fault-siem-stalls", "follow-up SIEM listing pages served again as they were, not caught up", catFaults, 0, func(o *Options, v int) { o.Faults.SIEMStalls = v }},
}

var durationKnobs = []durationKnob{
	{"span", "time the backlog is spread over, ending at the anchor", catTenant, 72 * time.Hour, func(o *Options, v time.Duration) { o.Sizes.Span = v }},
	{"siem-batch-window", "how often live SIEM batch files appear (each window's events are listed once it closes)", catTenant, siemDefaultBatchWindow, func(o *Options, v time.Duration) { o.Sizes.SIEMBatchWindow = v }},
	{"token-ttl", "lifetime of access tokens (expires_in reports one second less)", catAuth, 30 * time.Minute, func(o *Options, v time.Duration) { o.TokenTTL = v }},
	{"quota-window", "length of the fixed quota window", catAuth, time.Minute, func(o *Options, v time.Duration) { o.Quota.Window = v }},
	{"latency", "time every API call (the token endpoint too) takes to answer", catLatency, 0, func(o *Options, v time.Duration) { o.Latency.API = v }},
	{"latency-jitter", "up to this much more, uniformly at random, per API call", catLatency, 0, func(o *Options, v time.Duration) { o.Latency.APIJitter = v }},
	{"download-latency", "time every download of a SIEM batch file takes to start", catLatency, 0, func(o *Options, v time.Duration) { o.Latency.Download = v }},
	{"download-latency-jitter", "up to this much more, uniformly at random, per download", catLatency, 0, func(o *Options, v time.Duration) { o.Latency.DownloadJitter = v }},
	{"fault-server-error-for", "answer every API call 503 for this long after start", catFaults, 0, func(o *Options, v time.Duration) { o.Faults.ServerErrorFor = v }},
	{"fault-slow-by", "delay of slow responses", catFaults, 2 * time.Second, func(o *Options, v time.Duration) { o.Faults.SlowBy = v }},
	{"fault-late-index-by", "every other TTP, held and threat event record appears this long after its time", catFaults, 0, func(o *Options, v time.Duration) { o.Faults.LateIndexBy = v }},
}

// CLIFlags are the flags of the fake-api command: listen address, tenant shape, credentials,
// quota and every fault knob. OptionsFromCLI reads them back.
func CLIFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: FlagAddr, Value: DefaultAddr, Usage: "listen address (keep it on loopback: the fake has no real security)"},
		&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed of the generated tenant; the same seed gives the same records", Category: catTenant},
		&cli.StringFlag{Name: "anchor", Usage: "RFC 3339 time the backlog ends at (default: now, to the minute)", Category: catTenant},
		&cli.StringFlag{Name: "threats-shape", Value: ThreatsShapeData, Usage: "response shape of /threats/v1/events: data or events", Category: catTenant},
		&cli.StringFlag{Name: "client-id", Value: DefaultClientID, Usage: "client id of the API application", Category: catAuth},
		&cli.StringFlag{Name: "client-secret", Value: DefaultClientSecret, Usage: "client secret of the API application", Category: catAuth},
		&cli.StringSliceFlag{Name: "products", Usage: "products granted to the application (default all: " + strings.Join(AllProducts, ", ") + ")", Category: catAuth},
		&cli.BoolFlag{Name: "quota-headers-always", Usage: "send X-RateLimit-* on every response, not only on 429", Category: catAuth},
		&cli.BoolFlag{Name: "quota-retry-after", Usage: "add Retry-After to quota 429s", Category: catAuth},
		&cli.StringFlag{Name: "fault-list-order", Usage: "order of time-filtered list pages whatever the request asks: newest, oldest or shuffled (default: as asked)", Category: catFaults},
		&cli.StringFlag{Name: "fault-rate-limit-headers", Value: RateLimitHeadersReset, Usage: "headers of injected 429s: reset, retry_after, both or none", Category: catFaults},
	}
	for _, k := range intKnobs {
		flags = append(flags, &cli.IntFlag{Name: k.name, Value: k.def, Usage: k.usage, Category: k.category})
	}
	for _, k := range durationKnobs {
		flags = append(flags, &cli.DurationFlag{Name: k.name, Value: k.def, Usage: k.usage, Category: k.category})
	}
	return flags
}

// OptionsFromCLI builds Options from the flags of CLIFlags, rejecting values New would have to
// guess about.
func OptionsFromCLI(c *cli.Context) (Options, error) {
	opts := Options{Seed: c.Int64("seed")}
	for _, k := range intKnobs {
		v := c.Int(k.name)
		if v < 0 && k.name != "events-per-feed" {
			return Options{}, fmt.Errorf("reading --%s: must not be negative", k.name)
		}
		k.set(&opts, v)
	}
	for _, k := range durationKnobs {
		v := c.Duration(k.name)
		if v < 0 {
			return Options{}, fmt.Errorf("reading --%s: must not be negative", k.name)
		}
		k.set(&opts, v)
	}
	if opts.Sizes.LargeAttachmentPct > 100 {
		return Options{}, fmt.Errorf("reading --large-attachment-pct: %d is more than 100", opts.Sizes.LargeAttachmentPct)
	}
	if a := c.String("anchor"); a != "" {
		t, err := time.Parse(time.RFC3339, a)
		if err != nil {
			return Options{}, fmt.Errorf("reading --anchor: %w", err)
		}
		opts.Anchor = t
	}
	switch opts.ThreatsShape = c.String("threats-shape"); opts.ThreatsShape {
	case ThreatsShapeData, ThreatsShapeEvents:
	default:
		return Options{}, fmt.Errorf("reading --threats-shape: %q is not data or events", opts.ThreatsShape)
	}
	switch opts.Faults.RateLimitHeaders = c.String("fault-rate-limit-headers"); opts.Faults.RateLimitHeaders {
	case RateLimitHeadersReset, RateLimitHeadersRetryAfter, RateLimitHeadersBoth, RateLimitHeadersNone:
	default:
		return Options{}, fmt.Errorf("reading --fault-rate-limit-headers: %q is not reset, retry_after, both or none", opts.Faults.RateLimitHeaders)
	}
	switch opts.Faults.ListOrder = c.String("fault-list-order"); opts.Faults.ListOrder {
	case "", ListOrderNewest, ListOrderOldest, ListOrderShuffled:
	default:
		return Options{}, fmt.Errorf("reading --fault-list-order: %q is not newest, oldest or shuffled", opts.Faults.ListOrder)
	}
	app := ClientApp{ID: c.String("client-id"), Secret: c.String("client-secret")}
	if app.ID == "" || app.Secret == "" {
		return Options{}, fmt.Errorf("reading --client-id/--client-secret: both must be set")
	}
	for _, p := range c.StringSlice("products") {
		for _, name := range strings.Split(p, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			if !slices.Contains(AllProducts, name) {
				return Options{}, fmt.Errorf("reading --products: %q is not one of %s", name, strings.Join(AllProducts, ", "))
			}
			app.Products = append(app.Products, name)
		}
	}
	opts.Clients = []ClientApp{app}
	opts.Quota.HeadersAlways = c.Bool("quota-headers-always")
	opts.Quota.RetryAfter = c.Bool("quota-retry-after")
	return opts, nil
}
