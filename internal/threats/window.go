package threats

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
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
// window [cursor - overlap, now) page by page; the cursor moves to the window's end only once
// the whole window was read, so records Mimecast indexes late are read again (and
// deduplicated), and no record order is assumed: pages may come newest first, oldest first or
// unordered, and while a window is read the ids of every record of it stay in the seen set.
//
// A window that turns out to hold more than narrowAfterPages pages and spans more than
// backfill_slice is narrowed to its first backfill_slice: the records read so far stay emitted
// and in the seen set, and the narrowed window is read from its first page. Later windows keep
// that span, doubling it after each sparse one, so a backlog is read in slices while a quiet
// stretch costs few calls.
type windowSource struct {
	sourceName string
	feedName   string
	retention  time.Duration // 0 = none known
	overlap    time.Duration
	slice      time.Duration // backfill_slice; 0 = never narrow
	now        func() time.Time
	log        *service.Logger
	failed     *service.MetricCounter // mimecast_threats_fetch_errors
	cycles     *service.MetricCounter // mimecast_threats_pagination_cycles
	ahead      pageReadAhead          // used by the source's runner goroutine only
	walk       pageWalk               // the tokens of the window being read; runner goroutine only
	span       time.Duration          // the span the next window opens with; 0 = up to now. Runner goroutine only.
	liveTo     time.Time              // the end of the last window opened up to now. Runner goroutine only.

	// The failed pages of the window being read that the source handles itself (a refused page
	// token, a pagination cycle): a streak ends when the window was read to its end. Runner
	// goroutine only.
	streak failStreak
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
		if c.state != nil && !yield(c, nil) {
			return
		}
		if err != nil {
			yield(chunk{}, err)
		}
	}
}

// narrowAfterPages is how many pages a window longer than backfill_slice may take before it is
// narrowed; a window ending in at most half of them was sparse, and the next one spans twice
// as long.
const narrowAfterPages = 10

// open starts the window after the cursor: from the cursor less the overlap (not before the
// retention limit) to now, or the current span on.
func (w *windowSource) open(st feedState) feedState {
	st.WindowFrom = st.Cursor.Add(-w.overlap)
	st.WindowTo = w.now()
	st.Token = ""
	if w.retention > 0 {
		if limit := st.WindowTo.Add(-w.retention); st.WindowFrom.Before(limit) {
			st.WindowFrom = limit
		}
	}
	if w.span > 0 && st.WindowTo.Sub(st.WindowFrom) > w.span {
		st.WindowTo = st.WindowFrom.Add(w.span)
	} else {
		w.liveTo = st.WindowTo
	}
	return st
}

// readPage reads the next page of the window st stands in, opening a window first when none is
// under way, and returns it as one chunk that commits the state after the page. A failed page
// returns the error, and a chunk with the state to read next when that changes: a page token
// the API refused restarts the window from its first page. The caller backs off either way.
func (w *windowSource) readPage(ctx context.Context, st feedState) (chunk, error) {
	if st.WindowTo.IsZero() {
		st = w.open(st)
	}
	w.walk.enter(st)
	page, err := w.ahead.read(ctx, st.WindowFrom, st.WindowTo, st.Token)
	if err != nil {
		if st.Token != "" && pageTokenRefused(err) {
			// A saved page token the API no longer accepts (it expired, or the window changed),
			// or another refusal of this one page: read the window again from its start, after a
			// back-off; the ids in Seen absorb the repeats.
			w.failed.Incr(1, w.feedName)
			n := w.streak.failed(w.log, w.log.Warnf, w.sourceName, w.now(), fmt.Sprintf("reading the next page failed (%v); its page token may have expired, so the window is read again from %s", err, st.WindowFrom.Format(time.RFC3339)))
			st.Token = ""
			return chunk{state: &st}, &handledError{err: err, streak: n}
		}
		return chunk{}, err
	}
	next := page.next
	var cycle error
	if next != "" {
		if back, ok := w.walk.follow(st.Token, next); !ok {
			cycle = &paginationCycleError{token: next, page: back}
			next = ""
		}
	}
	caughtUp := page.next == ""
	narrow := next != "" && w.slice > 0 && st.WindowTo.Sub(st.WindowFrom) > w.slice && w.walk.pages() > narrowAfterPages
	if next != "" && !narrow {
		w.ahead.start(ctx, st.WindowFrom, st.WindowTo, next)
	}
	records := page.records()
	nst := st
	switch {
	case cycle != nil:
		// The page is real; what follows it cannot be trusted: read the window again from its
		// first page, after a back-off. The checkpoint stays in the window.
		w.cycles.Incr(1, w.feedName)
		n := w.streak.failed(w.log, w.log.Errorf, w.sourceName, w.now(), fmt.Sprintf("%v; the walk ends here and the window is read again from %s", cycle, st.WindowFrom.Format(time.RFC3339)))
		nst.Token = ""
		return chunk{records: records, state: &nst, commit: true}, &handledError{err: cycle, streak: n}
	case narrow:
		// Too many pages for one window: read its first slice from the start instead. The
		// records of the pages read are emitted and stay in the seen set.
		nst.WindowTo, nst.Token = st.WindowFrom.Add(w.slice), ""
		w.span = w.slice
		w.log.Debugf("%s: the window from %s holds more than %d pages; reading it %v at a time", w.sourceName, st.WindowFrom.Format(time.RFC3339), narrowAfterPages, w.slice)
		return chunk{records: records, state: &nst, commit: true}, nil
	case caughtUp:
		// The whole window was read: the next one starts at its end less the overlap.
		w.streak.ended(w.log, w.sourceName, "the window was read to its end")
		if st.WindowTo.After(nst.Cursor) {
			nst.Cursor = st.WindowTo
		}
		if w.span > 0 && w.walk.pages() <= narrowAfterPages/2 {
			w.span *= 2
		}
		live := st.WindowTo.Equal(w.liveTo)
		nst.WindowFrom, nst.WindowTo, nst.Token = time.Time{}, time.Time{}, ""
		return chunk{records: records, state: &nst, commit: true, caughtUp: live}, nil
	default:
		nst.Token = next
		return chunk{records: records, state: &nst, commit: true}, nil
	}
}

// failStreak counts the failed pages in a row that a source handles itself. It is logged when
// it starts, now and then while it lasts, and when it ends, and the runner's back-off grows
// with it.
type failStreak struct {
	n        int
	loggedAt time.Time
}

// failed counts a failure and logs msg: with logf for the first of a streak and again every
// failureRelog while it lasts, at DEBUG in between. It returns the streak's length.
func (s *failStreak) failed(log *service.Logger, logf func(string, ...any), source string, now time.Time, msg string) int {
	s.n++
	switch {
	case s.n == 1:
		logf("%s: %s", source, msg)
		s.loggedAt = now
	case now.Sub(s.loggedAt) >= failureRelog:
		logf("%s: %s (%d times in a row)", source, msg, s.n)
		s.loggedAt = now
	default:
		log.Debugf("%s: %s (%d times in a row)", source, msg, s.n)
	}
	return s.n
}

// ended is called when the source read past what failed: a streak of more than one failure is
// said to be over, with how.
func (s *failStreak) ended(log *service.Logger, source, how string) {
	if s.n > 1 {
		log.Infof("%s: %s after %d failed pages", source, how, s.n)
	}
	s.n = 0
}

// handledError is a failure the source already logged and counted: the runner only backs off,
// by the streak of such failures (pages read in between do not end it).
type handledError struct {
	err    error
	streak int
}

func (e *handledError) Error() string { return e.err.Error() }
func (e *handledError) Unwrap() error { return e.err }

// pageTokenRefused tells a refusal of the page a token names (expired, invalid, or a page that
// cannot be read) from failures of the call itself: a refused token restarts the window.
func pageTokenRefused(err error) bool {
	var apiErr *mimecast.APIError
	return errors.As(err, &apiErr) && !apiErr.Retryable && !apiErr.Forbidden() && !apiErr.Unauthorized() && !apiErr.RateLimited()
}

// pageWalk remembers the next tokens of the walk under way (the pages of one window, or of a
// SIEM listing until it is caught up), in the order they were first given, so that a token
// pointing back at a page already read is caught instead of read in a loop. A walk read again
// after a nack or a restart follows the same tokens forward, which is no cycle.
type pageWalk struct {
	from, to time.Time
	pos      map[string]int // token -> page number it leads to; "" is page 0
}

// maxWalkPages bounds the tokens a walk remembers; a longer walk starts to be remembered anew.
const maxWalkPages = 100_000

// pages is how many pages of the window the walk has seen.
func (p *pageWalk) pages() int { return len(p.pos) }

// enter starts a new walk when st is in another window than the walk.
func (p *pageWalk) enter(st feedState) {
	if p.pos == nil || !p.from.Equal(st.WindowFrom) || !p.to.Equal(st.WindowTo) {
		p.from, p.to = st.WindowFrom, st.WindowTo
		p.reset()
	}
}

// reset starts a new walk.
func (p *pageWalk) reset() { p.pos = map[string]int{"": 0} }

// follow records that the page read with token gave next, and reports false (with the page
// number next leads back to) when next names this page or an earlier one.
func (p *pageWalk) follow(token, next string) (int, bool) {
	if p.pos == nil || len(p.pos) > maxWalkPages {
		p.reset()
	}
	at, ok := p.pos[token]
	if !ok {
		// A token of a checkpoint from before a restart: its page comes after every page known.
		at = len(p.pos)
		p.pos[token] = at
	}
	if q, seen := p.pos[next]; seen {
		return q, q > at
	}
	p.pos[next] = at + 1
	return 0, true
}

// paginationCycleError is a page whose next token leads back to a page of the same walk.
type paginationCycleError struct {
	token string
	page  int
}

func (e *paginationCycleError) Error() string {
	return fmt.Sprintf("pagination cycle: the next page token %s leads back to page %d of this window", shortToken(e.token), e.page+1)
}

// shortToken names a page token in a log line without writing all of a long one.
func shortToken(t string) string {
	const keep = 24
	if len(t) <= keep {
		return strconv.Quote(t)
	}
	return fmt.Sprintf("%q... (%d characters)", t[:keep], len(t))
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
