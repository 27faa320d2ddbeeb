package threats

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// feedEndpoints are the list endpoints each feed reads.
var feedEndpoints = map[string][]string{
	feedThreatEvents:  {mimecast.PathThreatEvents},
	feedURLProtect:    {mimecast.PathURLLogs},
	feedAttachment:    {mimecast.PathAttachmentLogs},
	feedImpersonation: {mimecast.PathImpersonationLogs},
	feedHeld:          {mimecast.PathHoldMessageList, mimecast.PathHeldReleaseLogs},
	feedSIEM:          {mimecast.PathSIEMBatch},
}

// sources builds one threatSource per selected feed (two for held_messages, one per event type
// for siem).
func (in *threatsInput) sources() []threatSource {
	var out []threatSource
	for _, feed := range in.cfg.feeds {
		switch feed {
		case feedSIEM:
			for _, t := range in.cfg.siemTypes {
				out = append(out, &siemSource{in: in, eventType: t})
			}
		case feedHeld:
			out = append(out, in.window(feedHeld+"_queue", feedHeld, 0, in.heldQueuePage),
				in.window(feedHeld+"_releases", feedHeld, 0, in.heldReleasesPage))
		case feedThreatEvents:
			out = append(out, in.window(feed, feed, 0, in.threatEventsPage))
		case feedURLProtect:
			out = append(out, in.window(feed, feed, 0, in.urlClicksPage))
		case feedAttachment:
			out = append(out, in.window(feed, feed, 0, in.attachmentLogsPage))
		case feedImpersonation:
			out = append(out, in.window(feed, feed, 0, in.impersonationLogsPage))
		}
	}
	return out
}

func (in *threatsInput) window(name, feed string, retention time.Duration, page windowPageFunc) *windowSource {
	return &windowSource{
		sourceName: name, feedName: feed, retention: retention, overlap: in.cfg.overlap,
		slice: in.cfg.backfillSlice, concurrency: in.cfg.backfillConc, quotaRate: in.quotaRate,
		now: in.now, log: in.log, failed: in.metrics.fetchErrors, cycles: in.metrics.paginationCycles,
		pool: newSlicePool(page), failing: map[sliceKey]bool{},
	}
}

// quotaRate is the client's QuotaRate; none known without a client.
func (in *threatsInput) quotaRate() (float64, bool) {
	if in.cfg.conn == nil || in.cfg.conn.Client == nil {
		return 0, false
	}
	return in.cfg.conn.Client.QuotaRate()
}

// record reduces a client record to a threatRecord; the classification is the caller's.
func record(r mimecast.Record) threatRecord {
	rec := threatRecord{raw: r.RawJSON(), id: mimecast.EventKey(r), decodeErr: r.DecodeErr()}
	if rec.decodeErr == nil {
		rec.eventTime = r.EventTime()
		rec.messageID = r.MessageID()
		rec.recordID = mimecast.OwnID(r)
		rec.contentID = mimecast.ContentID(r)
	}
	return rec
}

// pendingPage is the windowPage of a page whose records are decoded when asked for.
func pendingPage[T mimecast.Record](page mimecast.PendingPage[T], classify func(T, *threatRecord)) windowPage {
	return windowPage{next: page.Next, total: page.Total, records: func() []threatRecord { return pageRecords(page.Records(), classify) }}
}

func pageRecords[T mimecast.Record](items []T, classify func(T, *threatRecord)) []threatRecord {
	out := make([]threatRecord, 0, len(items))
	for _, it := range items {
		rec := record(it)
		if rec.decodeErr == nil {
			classify(it, &rec)
		}
		out = append(out, rec)
	}
	return out
}

// The values /threats/v1/events filters on; it rejects others with a 400, so only these are
// sent, and the rest of a selection is applied locally (where it matches nothing of this feed).
var (
	threatAPIAnalyses = []string{"malware", "phishing", "spam", "suspicious", "unwanted"}
	threatAPIStatuses = []string{"blocked", "rejected", "delivered", "held", "bounced", "unknown"}
	threatAPISources  = []string{"email", "url"}
)

func apiSelection(selected, known []string) []string {
	var out []string
	for _, s := range selected {
		if slices.Contains(known, s) {
			out = append(out, s)
		}
	}
	return out
}

func (in *threatsInput) threatEventsPage(ctx context.Context, from, to time.Time, token string) (windowPage, error) {
	page, err := in.cfg.conn.Client.ThreatEventsPage(in.cfg.conn.Context(ctx), mimecast.ThreatEventsRequest{
		Start:    from,
		End:      to,
		Analysis: apiSelection(in.cfg.threatTypes, threatAPIAnalyses),
		Status:   apiSelection(in.cfg.statuses, threatAPIStatuses),
		Source:   apiSelection(in.cfg.sources, threatAPISources),
	}, token)
	if err != nil {
		return windowPage{}, fmt.Errorf("fetching threat events: %w", err)
	}
	return decodedPage(pageRecords(page.Items, func(e mimecast.ThreatEvent, r *threatRecord) {
		r.threatType = pickThreatType(e.Analysis, in.cfg.threatTypes)
		r.status = strings.ToLower(e.Status)
		r.source = strings.ToLower(e.Source)
	}), page.Next).withTotal(page.Total), nil
}

// pickThreatType chooses the record's category among the analysis verdicts: the first one the
// selection asks for, else the first.
func pickThreatType(analysis, want []string) string {
	for _, a := range analysis {
		if slices.Contains(want, strings.ToLower(a)) {
			return strings.ToLower(a)
		}
	}
	if len(analysis) > 0 {
		return strings.ToLower(analysis[0])
	}
	return ""
}

func (in *threatsInput) urlClicksPage(ctx context.Context, from, to time.Time, token string) (windowPage, error) {
	page, err := in.cfg.conn.Client.URLClickLogsPending(in.cfg.conn.Context(ctx), mimecast.URLLogsRequest{From: from, To: to, OldestFirst: true}, token)
	if err != nil {
		return windowPage{}, fmt.Errorf("fetching url protect logs: %w", err)
	}
	return pendingPage(page, func(c mimecast.URLClick, r *threatRecord) {
		r.threatType, r.status, r.source = "url", urlClickStatus(c.Action), feedURLProtect
	}), nil
}

func (in *threatsInput) attachmentLogsPage(ctx context.Context, from, to time.Time, token string) (windowPage, error) {
	page, err := in.cfg.conn.Client.AttachmentLogsPending(in.cfg.conn.Context(ctx), mimecast.AttachmentLogsRequest{From: from, To: to, OldestFirst: true}, token)
	if err != nil {
		return windowPage{}, fmt.Errorf("fetching attachment protect logs: %w", err)
	}
	return pendingPage(page, func(a mimecast.AttachmentLog, r *threatRecord) {
		r.threatType, r.status, r.source = attachmentThreatType(a.Verdict()), attachmentStatus(a.Verdict(), a.ActionTriggered), feedAttachment
	}), nil
}

func (in *threatsInput) impersonationLogsPage(ctx context.Context, from, to time.Time, token string) (windowPage, error) {
	page, err := in.cfg.conn.Client.ImpersonationLogsPage(in.cfg.conn.Context(ctx), mimecast.ImpersonationLogsRequest{From: from, To: to, OldestFirst: true}, token)
	if err != nil {
		return windowPage{}, fmt.Errorf("fetching impersonation protect logs: %w", err)
	}
	return decodedPage(pageRecords(page.Items, func(l mimecast.ImpersonationLog, r *threatRecord) {
		r.threatType, r.status, r.source = "impersonation", impersonationStatus(l.Action), feedImpersonation
	}), page.Next).withTotal(page.Total), nil
}

func (in *threatsInput) heldQueuePage(ctx context.Context, from, to time.Time, token string) (windowPage, error) {
	page, err := in.cfg.conn.Client.HeldMessagesPage(in.cfg.conn.Context(ctx), mimecast.HoldListRequest{Start: from, End: to}, token)
	if err != nil {
		return windowPage{}, fmt.Errorf("fetching hold queue: %w", err)
	}
	return decodedPage(pageRecords(page.Items, func(h mimecast.HeldMessage, r *threatRecord) {
		r.threatType, r.status, r.source = heldThreatType(h.ReasonCode, h.Reason), "held", "hold_queue"
	}), page.Next).withTotal(page.Total), nil
}

func (in *threatsInput) heldReleasesPage(ctx context.Context, from, to time.Time, token string) (windowPage, error) {
	page, err := in.cfg.conn.Client.HeldReleaseLogsPage(in.cfg.conn.Context(ctx), mimecast.HeldReleaseLogsRequest{Start: from, End: to}, token)
	if err != nil {
		return windowPage{}, fmt.Errorf("fetching held release logs: %w", err)
	}
	return decodedPage(pageRecords(page.Items, func(h mimecast.HeldReleaseLog, r *threatRecord) {
		r.threatType, r.status, r.source = heldThreatType("", h.HeldReason), strings.ToLower(h.Status), "release_log"
	}), page.Next).withTotal(page.Total), nil
}
