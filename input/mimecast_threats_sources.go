package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

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
			if why := in.threatEventsUnselectable(); why != "" {
				in.log.Infof("threat_events is not polled: %s", why)
				continue
			}
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
		now: in.now, log: in.log, failed: in.metrics.fetchErrors,
		ahead: pageReadAhead{page: page},
	}
}

// record reduces a client record to a threatRecord; the classification is the caller's.
func record(r mimecast.Record) threatRecord {
	rec := threatRecord{raw: r.RawJSON(), id: r.ID(), decodeErr: r.DecodeErr()}
	if rec.decodeErr == nil {
		rec.eventTime = r.EventTime()
		rec.messageID = r.MessageID()
	}
	return rec
}

// pendingPage is the windowPage of a page whose records are decoded when asked for.
func pendingPage[T mimecast.Record](page mimecast.PendingPage[T], classify func(T, *threatRecord)) windowPage {
	return windowPage{next: page.Next, records: func() []threatRecord { return pageRecords(page.Records(), classify) }}
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

// threatEventsUnselectable says why no threat event can pass the selections, or "".
func (in *threatsInput) threatEventsUnselectable() string {
	for _, sel := range []struct {
		field    string
		selected []string
		known    []string
	}{
		{tfThreatTypes, in.cfg.threatTypes, threatAPIAnalyses},
		{tfStatuses, in.cfg.statuses, threatAPIStatuses},
		{tfThreatSources, in.cfg.sources, threatAPISources},
	} {
		if len(sel.selected) > 0 && len(apiSelection(sel.selected, sel.known)) == 0 {
			return fmt.Sprintf("%s %v has none of the values threat events carry (%s)", sel.field, sel.selected, strings.Join(sel.known, ", "))
		}
	}
	return ""
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
	}), page.Next), nil
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
		r.threatType, r.status, r.source = attachmentThreatType(a.Verdict()), attachmentStatus(a.Verdict()), feedAttachment
	}), nil
}

func (in *threatsInput) impersonationLogsPage(ctx context.Context, from, to time.Time, token string) (windowPage, error) {
	page, err := in.cfg.conn.Client.ImpersonationLogsPage(in.cfg.conn.Context(ctx), mimecast.ImpersonationLogsRequest{From: from, To: to, OldestFirst: true}, token)
	if err != nil {
		return windowPage{}, fmt.Errorf("fetching impersonation protect logs: %w", err)
	}
	return decodedPage(pageRecords(page.Items, func(l mimecast.ImpersonationLog, r *threatRecord) {
		r.threatType, r.status, r.source = "impersonation", impersonationStatus(l.Action), feedImpersonation
	}), page.Next), nil
}

func (in *threatsInput) heldQueuePage(ctx context.Context, from, to time.Time, token string) (windowPage, error) {
	page, err := in.cfg.conn.Client.HeldMessagesPage(in.cfg.conn.Context(ctx), mimecast.HoldListRequest{Start: from, End: to}, token)
	if err != nil {
		return windowPage{}, fmt.Errorf("fetching hold queue: %w", err)
	}
	return decodedPage(pageRecords(page.Items, func(h mimecast.HeldMessage, r *threatRecord) {
		r.threatType, r.status, r.source = heldThreatType(h.ReasonCode, h.Reason), "held", "hold_queue"
	}), page.Next), nil
}

func (in *threatsInput) heldReleasesPage(ctx context.Context, from, to time.Time, token string) (windowPage, error) {
	page, err := in.cfg.conn.Client.HeldReleaseLogsPage(in.cfg.conn.Context(ctx), mimecast.HeldReleaseLogsRequest{Start: from, End: to}, token)
	if err != nil {
		return windowPage{}, fmt.Errorf("fetching held release logs: %w", err)
	}
	return decodedPage(pageRecords(page.Items, func(h mimecast.HeldReleaseLog, r *threatRecord) {
		r.threatType, r.status, r.source = heldThreatType("", h.HeldReason), strings.ToLower(h.Status), "release_log"
	}), page.Next), nil
}

// siemChunk is how many SIEM events make one batch: files hold hundreds to thousands of events,
// and a whole file in one batch would hold it all in memory.
const siemChunk = 500

// siemSource reads the SIEM batch files of one event type. Its checkpoint is the listing's
// @nextPage: a listing page is committed once every event of every file on it was delivered.
type siemSource struct {
	in        *threatsInput
	eventType string
}

func (s *siemSource) name() string { return "siem_" + strings.ReplaceAll(s.eventType, " ", "_") }
func (s *siemSource) feed() string { return feedSIEM }

func (s *siemSource) start(now time.Time, lookback time.Duration) feedState {
	return feedState{Cursor: clampLookback(s.in.log, s.name(), now, lookback, siemRetention)}
}

func (s *siemSource) fetch(ctx context.Context, st feedState, emit emitFunc) (feedState, bool, error) {
	client, cctx := s.in.cfg.conn.Client, s.in.cfg.conn.Context(ctx)
	req := mimecast.SIEMBatchRequest{Type: s.eventType}
	if st.Token == "" {
		req.Start = st.Cursor
	}
	for attempt := 1; ; attempt++ {
		list, err := client.SIEMBatchFilesPage(cctx, req, st.Token)
		if err != nil {
			return st, false, fmt.Errorf("listing siem %s batch files: %w", s.eventType, err)
		}
		if list.DuplicateURLs > 0 {
			// A file listed twice would deliver its events twice; it is read once.
			s.in.metrics.duplicates.Incr(int64(list.DuplicateURLs), feedSIEM)
			s.in.log.Debugf("%s: %d duplicated batch URLs on one listing page, each fetched once", s.name(), list.DuplicateURLs)
		}
		newest, again, err := s.readFiles(ctx, list.Files, emit, attempt < siemPageAttempts)
		if err != nil {
			return st, false, err
		}
		if again != nil {
			// The page is listed again with fresh URLs and read again from its first file;
			// events already delivered from it are recognised by their ids.
			s.in.metrics.fetchErrors.Incr(1, feedSIEM)
			logf := s.in.log.Debugf
			if attempt == 1 {
				logf = s.in.log.Warnf
			}
			logf("%s: %v; listing the page again for fresh URLs (attempt %d of %d)", s.name(), again, attempt+1, siemPageAttempts)
			continue
		}
		nst := st
		if newest.After(nst.Cursor) {
			nst.Cursor = newest
		}
		if list.NextPage != "" {
			nst.Token = list.NextPage
		}
		if err := emit(ctx, nil, &nst); err != nil {
			return st, false, err
		}
		return nst, list.IsCaughtUp || len(list.Files) == 0, nil
	}
}

// siemPageAttempts is how many times a listing page is read when one of its files cannot be
// read whole: its URL expired, or the file ends early. A transfer cut short (a reset, a proxy
// timeout) looks the same as a damaged file; only another download tells them apart, and a
// fresh listing is what gives a regenerated file or a URL that has not expired. After the last
// attempt an expired URL is an error of the poll, and a file that still ends early has its end
// emitted as an error-flagged record.
const siemPageAttempts = 3

// readFiles reads the files of one listing page and returns the newest event time. again is
// set, and reading stops, when a file's URL expired or (with retry) a file ended early.
func (s *siemSource) readFiles(ctx context.Context, files []mimecast.SIEMBatchFile, emit emitFunc, retry bool) (newest time.Time, again, err error) {
	var ahead *filePrefetch
	defer func() { ahead.discard() }()
	for i, f := range files {
		cur := ahead
		ahead = nil
		if i+1 < len(files) {
			ahead = s.prefetchFile(ctx, files[i+1])
		}
		n, cut, err := s.readFile(ctx, f.URL, cur, emit, retry)
		if errors.Is(err, mimecast.ErrBatchURLExpired) && retry {
			return newest, err, nil
		}
		if err != nil {
			return newest, nil, err
		}
		if cut != nil {
			return newest, cut, nil
		}
		if n.After(newest) {
			newest = n
		}
	}
	return newest, nil, nil
}

// readFile emits the events of one batch file in chunks and returns the newest event time. With
// retryCut, a file that ends early stops the read and is returned as cut (the events read since
// the last chunk are not emitted: the next read has them); without, the end is emitted as an
// error-flagged record.
func (s *siemSource) readFile(ctx context.Context, fileURL string, pre *filePrefetch, emit emitFunc, retryCut bool) (newest time.Time, cut, err error) {
	r, ok := pre.open(ctx)
	if !ok {
		if r, err = s.in.cfg.conn.Client.OpenBatchFile(s.in.cfg.conn.Context(ctx), fileURL); err != nil {
			return newest, nil, err
		}
	}
	defer r.Close()
	chunk := make([]threatRecord, 0, siemChunk)
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return newest, nil, fmt.Errorf("reading siem batch file: %w", err)
		}
		rec := record(ev)
		if errors.Is(rec.decodeErr, mimecast.ErrBatchFileCorrupt) {
			if retryCut {
				return newest, fmt.Errorf("batch file %s: %w", fileName(fileURL), rec.decodeErr), nil
			}
			// The text of a cut is often empty: name the file and line, or the ends of two
			// damaged files would look like one record repeated.
			rec.id = mimecast.ContentHash(fmt.Appendf(nil, "%s:%d:%s", fileName(fileURL), r.Line(), rec.raw))
		}
		if rec.decodeErr == nil {
			rec.threatType = siemThreatType(ev.Type)
			rec.status = siemStatus(ev.Action, "")
			rec.source = feedSIEM
			if rec.eventTime.After(newest) {
				newest = rec.eventTime
			}
		}
		chunk = append(chunk, rec)
		if len(chunk) == siemChunk {
			if err := emit(ctx, chunk, nil); err != nil {
				return newest, nil, err
			}
			chunk = make([]threatRecord, 0, siemChunk)
		}
	}
	if len(chunk) > 0 {
		if err := emit(ctx, chunk, nil); err != nil {
			return newest, nil, err
		}
	}
	return newest, nil, nil
}

// fileName is the path of a pre-signed URL: what names the file, without its signature.
func fileName(fileURL string) string {
	u, err := url.Parse(fileURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Path
}
