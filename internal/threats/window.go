package threats

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// windowPageFunc reads one page of records with event times in [from, to), oldest first where the
// API allows. token is empty for the first page; the page's next is empty after the last.
type windowPageFunc func(ctx context.Context, from, to time.Time, token string) (windowPage, error)

// windowPage is a page read: its next token, and its records, which may be decoded only when
// asked for, so that the next page can be on its way meanwhile.
type windowPage struct {
	next    string
	records func() []threatRecord
}

// decodedPage is a windowPage of records already decoded.
func decodedPage(records []threatRecord, next string) windowPage {
	return windowPage{next: next, records: func() []threatRecord { return records }}
}

// windowSource turns a time-filtered, paged endpoint into a threatSource. Each poll reads the
// window [cursor - overlap, now) page by page; the cursor then moves to the newest event time
// read, or to the window's end minus the overlap if that is later, so a quiet feed still moves
// on while records Mimecast indexes late are read again (and deduplicated).
type windowSource struct {
	sourceName string
	feedName   string
	retention  time.Duration // 0 = none known
	overlap    time.Duration
	now        func() time.Time
	log        *service.Logger
	failed     *service.MetricCounter // mimecast_threats_fetch_errors
	ahead      pageReadAhead          // used by the source's runner goroutine only
}

func (w *windowSource) name() string { return w.sourceName }
func (w *windowSource) feed() string { return w.feedName }

// close stops a page read ahead; the runner calls it when it stops.
func (w *windowSource) close() { w.ahead.close() }

func (w *windowSource) start(now time.Time, lookback time.Duration) feedState {
	return feedState{Cursor: clampLookback(w.log, w.sourceName, now, lookback, w.retention)}
}

func (w *windowSource) read(ctx context.Context, st feedState) iter.Seq2[chunk, error] {
	return func(yield func(chunk, error) bool) {
		c, err := w.readPage(ctx, st)
		if err != nil {
			yield(chunk{}, err)
			return
		}
		yield(c, nil)
	}
}

// readPage reads the next page of the window st stands in, opening a window first when none is
// under way, and returns it as one chunk that commits the state after the page.
func (w *windowSource) readPage(ctx context.Context, st feedState) (chunk, error) {
	if st.WindowTo.IsZero() {
		st.WindowFrom = st.Cursor.Add(-w.overlap)
		st.WindowTo = w.now()
		st.Token = ""
		if w.retention > 0 {
			if limit := st.WindowTo.Add(-w.retention); st.WindowFrom.Before(limit) {
				st.WindowFrom = limit
			}
		}
	}
	page, err := w.ahead.read(ctx, st.WindowFrom, st.WindowTo, st.Token)
	if err != nil {
		var apiErr *mimecast.APIError
		if st.Token != "" && errors.As(err, &apiErr) && !apiErr.Retryable && !apiErr.Forbidden() && !apiErr.Unauthorized() {
			// A saved page token the API no longer accepts (it expired, or the window changed),
			// or another refusal of this one page: read the window again from its start; the
			// ids in Seen absorb the repeats.
			w.failed.Incr(1, w.feedName)
			w.log.Warnf("%s: reading the next page failed (%v); its page token may have expired, so the window is read again from %s", w.sourceName, err, st.WindowFrom.Format(time.RFC3339))
			st.WindowTo, st.Token = time.Time{}, ""
			return chunk{state: &st}, nil
		}
		return chunk{}, err
	}
	next := page.next
	caughtUp := next == ""
	if !caughtUp {
		w.ahead.start(ctx, st.WindowFrom, st.WindowTo, next)
	}
	records := page.records()
	nst := st
	for _, r := range records {
		if r.decodeErr == nil && r.eventTime.After(nst.Cursor) && !r.eventTime.After(st.WindowTo) {
			nst.Cursor = r.eventTime
		}
	}
	if caughtUp {
		if quiet := st.WindowTo.Add(-w.overlap); quiet.After(nst.Cursor) {
			nst.Cursor = quiet
		}
		nst.WindowFrom, nst.WindowTo, nst.Token = time.Time{}, time.Time{}, ""
	} else {
		nst.Token = next
	}
	return chunk{records: records, state: &nst, commit: true, caughtUp: caughtUp}, nil
}

// clampLookback is now-lookback, or the retention limit with a warning when lookback reaches
// past what the API keeps.
func clampLookback(log *service.Logger, source string, now time.Time, lookback, retention time.Duration) time.Time {
	if retention > 0 && lookback > retention {
		log.Warnf("%s: lookback %v is past the %v this feed keeps; starting at the retention limit", source, lookback, retention)
		lookback = retention
	}
	return now.Add(-lookback)
}
