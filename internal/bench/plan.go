package bench

import (
	"fmt"
	"time"
)

// Sizes of a harness run.
const (
	SizeFull  = "full"  // what `task bench` runs and docs/benchmarks.md shows
	SizeSmall = "small" // the same scenarios, small enough for CI
)

// plan holds every size knob of a run, so that small and full differ in numbers only.
type plan struct {
	Size string

	// Threats drain: threatFeeds plus every SIEM type of siemTypes, EventsPerFeed each.
	ThreatsPerSource int
	// The single-feed comparison with the stock http_client input (url_protect only).
	URLEvents int
	// The same comparison against a tenant answering every call after apiLatency.
	LatencyEvents int
	// Quota: the three TTP feeds, QuotaPerFeed each, against QuotaLimit calls per QuotaWindow.
	QuotaPerFeed int
	QuotaLimit   int
	QuotaWindow  time.Duration
	// Archive crawl: Domains x UsersPerDomain mailboxes of MessagesPerMailbox messages.
	Domains, UsersPerDomain, MessagesPerMailbox int
	AttachmentBytes, LargeAttachmentPct         int
	MailboxConcurrency                          []int
	// Memory: HugeSIEMLines av events of HugeSIEMLineBytes; LyingMailboxes x
	// LyingMessagesPerMailbox emails of 5 MiB attachments, the search saying 2,000 bytes.
	HugeSIEMLines, HugeSIEMLineBytes        int
	LyingMailboxes, LyingMessagesPerMailbox int
	// Enrich: distinct Message-IDs looked up cold, then again warm.
	EnrichIDs int
	// Timeout bounds each scenario.
	Timeout time.Duration
}

func planFor(size string) (plan, error) {
	switch size {
	case SizeFull:
		return plan{
			Size:                    SizeFull,
			ThreatsPerSource:        100_000, // 10 sources: 1,000,000 events
			URLEvents:               300_000,
			LatencyEvents:           200_000,
			QuotaPerFeed:            50_000, // 3 x 100 pages of 500: 300 calls, 5 windows of 60
			QuotaLimit:              60,
			QuotaWindow:             5 * time.Second,
			Domains:                 4,
			UsersPerDomain:          50, // 200 mailboxes
			MessagesPerMailbox:      100,
			AttachmentBytes:         64 << 10,
			LargeAttachmentPct:      2, // of attachments; each is 5 MiB
			MailboxConcurrency:      []int{1, 4, 16},
			HugeSIEMLines:           300,           // 1.2 GB of records
			HugeSIEMLineBytes:       4<<20 - 2<<10, // just under the 4 MiB record limit
			LyingMailboxes:          16,
			LyingMessagesPerMailbox: 6, // about 96 emails of 2 x 5 MiB
			EnrichIDs:               2_000,
			Timeout:                 15 * time.Minute,
		}, nil
	case SizeSmall:
		return plan{
			Size:                    SizeSmall,
			ThreatsPerSource:        500,
			URLEvents:               1_000,
			LatencyEvents:           2_000,
			QuotaPerFeed:            1_000, // 3 x 2 pages: 6 calls, 2 windows of 3
			QuotaLimit:              3,
			QuotaWindow:             1500 * time.Millisecond,
			Domains:                 2,
			UsersPerDomain:          3,
			MessagesPerMailbox:      8,
			AttachmentBytes:         8 << 10,
			LargeAttachmentPct:      0,
			MailboxConcurrency:      []int{1, 4, 16},
			HugeSIEMLines:           20,
			HugeSIEMLineBytes:       4<<20 - 2<<10,
			LyingMailboxes:          4,
			LyingMessagesPerMailbox: 2,
			EnrichIDs:               60,
			Timeout:                 2 * time.Minute,
		}, nil
	default:
		return plan{}, fmt.Errorf("size %q: use %s or %s", size, SizeSmall, SizeFull)
	}
}

// Feeds of the threats drain. With the default six SIEM threat types that is ten sources; a
// backlog of ThreatsPerSource on each is the million events at full size.
var (
	threatFeeds = []string{"threat_events", "url_protect", "attachment_protect", "impersonation_protect", "siem"}
	siemTypes   = []string{"av", "spam", "internal email protect", "impersonation protect", "url protect", "attachment protect"}
	ttpFeeds    = []string{"url_protect", "attachment_protect", "impersonation_protect"}
)

// Page sizes the scenarios ask for: the largest each endpoint accepts, as integrators' clients use them.
const (
	apiPageSize     = 500 // /api/* lists
	threatsPageSize = 100 // /threats/v1/events
	siemPageSize    = 100 // the SIEM batch listing
)

// apiLatency is how long the latency scenarios' tenant takes for every call: a round trip to a
// Mimecast region from a nearby cloud region is tens of milliseconds, a page of 500 records
// takes the API more.
const apiLatency = 50 * time.Millisecond

// backlogSpan is how far before the anchor the fake spreads a backlog; lookback covers it.
const (
	backlogSpan = 72 * time.Hour
	lookback    = 96 * time.Hour
)
