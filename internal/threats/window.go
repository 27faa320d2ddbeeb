package threats

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
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
	total   int // the records of the whole listing as the API reports them; 0: not reported
	records func() []threatRecord
}

// decodedPage is a windowPage of records already decoded.
func decodedPage(records []threatRecord, next string) windowPage {
	return windowPage{next: next, records: func() []threatRecord { return records }}
}

// withTotal is p saying the listing holds total records.
func (p windowPage) withTotal(total int) windowPage {
	p.total = total
	return p
}

// windowSource turns a time-filtered, paged endpoint into a threatSource. Each poll reads the
// window [cursor - overlap, now); the cursor moves to the window's end only once the whole
// window was read, so records Mimecast indexes late are read again (and deduplicated), and no
// record order is assumed: pages may come newest first, oldest first or unordered, and while a
// window is read the ids of every record of it stay in the seen set.
//
// A window longer than backfill_slice (a lookback, or a feed far behind after an outage) is
// first asked for its first page, as one probe slice. When more pages follow, the window is cut
// into slices (see sliceSpan) and backfill_concurrency of them are read at once, each page by
// page on its own (see slicePool); the probe's records were emitted and their ids absorb the
// slices' repeats of them. A quiet window costs its one call that way, and a backlog a call
// more than its pages. Pages are emitted as they arrive, so records of different slices
// interleave; the checkpoint names the open slices with their next pages, and the cursor is the
// start of the oldest open slice, so it moves only past slices read whole and acknowledged. A
// window within backfill_slice is one slice from the start.
type windowSource struct {
	sourceName  string
	feedName    string
	retention   time.Duration // 0 = none known
	overlap     time.Duration
	slice       time.Duration          // backfill_slice; 0 = one slice per window
	concurrency int                    // backfill_concurrency: slices read at once
	quotaRate   func() (float64, bool) // the client's QuotaRate; nil: none known
	now         func() time.Time
	log         *service.Logger
	failed      *service.MetricCounter // mimecast_threats_fetch_errors
	cycles      *service.MetricCounter // mimecast_threats_pagination_cycles
	pool        *slicePool             // used by the source's runner goroutine only
	walks       map[sliceKey]*pageWalk // the tokens of each open slice; runner goroutine only
	liveTo      time.Time              // the end of the last window opened (up to now). Runner goroutine only.
	// wide says the last page read answered: only then are slices read at once, so that a
	// refusal or an outage costs one call, not one per slice. Runner goroutine only.
	wide bool

	// The failed pages that the source handles itself (a refused page token, a pagination
	// cycle), and the slices they failed in: a streak ends when each of those slices was read to
	// its end. Runner goroutine only.
	streak  failStreak
	failing map[sliceKey]bool
}

func (w *windowSource) name() string { return w.sourceName }
func (w *windowSource) feed() string { return w.feedName }

// close stops the slices' walkers; the runner calls it when it stops.
func (w *windowSource) close() { w.pool.close() }

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

// open starts the window after the cursor: from the cursor less the overlap (not before the
// retention limit) to now, cut into slices.
func (w *windowSource) open(st feedState) feedState {
	st.WindowFrom = st.Cursor.Add(-w.overlap)
	st.WindowTo = w.now()
	st.Token, st.Slices = "", nil
	if w.retention > 0 {
		if limit := st.WindowTo.Add(-w.retention); st.WindowFrom.Before(limit) {
			st.WindowFrom = limit
		}
	}
	st.SliceNext, st.SliceSpan = st.WindowFrom, 0
	st.Probe = w.slice > 0 && st.WindowTo.Sub(st.WindowFrom) > w.slice
	w.liveTo = st.WindowTo
	return st
}

// Slices of a backlog hold about slicePages pages each when the API says how many records the
// window holds (a slice's last page is on average half full, so that wastes a twentieth of the
// calls), and there are at least backfill_concurrency of them (but no more than pages), so that
// a backlog whose records are not spread evenly over the window is still read at once. A
// listing that says it holds more than the window can have in slices of minSliceSpan is held to
// maxSlices.
const (
	slicePages   = 10
	minSliceSpan = time.Minute
	maxSlices    = 1000
)

// worthSlicing says whether a window whose first page of perPage records said there are total
// in all (0: it did not say), and took took to come, is read in slices: when it has more than
// slicePages pages, or may have, unless the quota the client learned is the bound. A few pages
// cost fewer calls walked one after the other, and so does a backlog whose quota allows fewer
// than quotaBound calls per round trip: slices would only spend calls the quota counts.
func (w *windowSource) worthSlicing(total, perPage int, took time.Duration) bool {
	if total > 0 && perPage > 0 && total <= slicePages*perPage {
		return false
	}
	if w.quotaRate != nil {
		if rate, ok := w.quotaRate(); ok && rate*took.Seconds() < quotaBound {
			w.log.Debugf("%s: the quota (%.1f calls/s) and not the round trip (%v) bounds reading the backlog: reading it page by page", w.sourceName, rate, took)
			return false
		}
	}
	return true
}

// quotaBound is how many calls the quota must allow per round trip for slices to be worth
// their extra calls.
const quotaBound = 1.5

// sliceSpan is the span of the slices a window of span window is cut into, after its first
// page of perPage records said there are total in all (0: it did not say): about slicePages
// pages a slice, at least min(backfill_concurrency, pages) slices, at most maxSlices and none
// shorter than minSliceSpan; or backfill_slice when the count is unknown.
func (w *windowSource) sliceSpan(window time.Duration, total, perPage int) time.Duration {
	if total <= perPage || perPage == 0 {
		return w.slice
	}
	pages := (total + perPage - 1) / perPage
	n := min(max((pages+slicePages-1)/slicePages, min(w.concurrency, pages), 2), maxSlices)
	span := (window + time.Duration(n) - 1) / time.Duration(n)
	return max(span.Truncate(time.Second)+time.Second, minSliceSpan)
}

// readPage reads the next page of any open slice of the window st stands in, opening a window
// first when none is under way, and returns it as one chunk that commits the state after the
// page. A failed page returns the error, and a chunk with the state to read next when that
// changes: a page token the API refused restarts its slice from its first page. The caller
// backs off either way.
func (w *windowSource) readPage(ctx context.Context, st feedState) (chunk, error) {
	switch {
	case st.WindowTo.IsZero():
		st = w.open(st)
	case st.SliceNext.IsZero():
		// A checkpoint of one window and its next page: that window is its one slice.
		st.Slices, st.SliceNext = []sliceState{{From: st.WindowFrom, To: st.WindowTo, Token: st.Token}}, st.WindowTo
		st.Token, st.SliceSpan, st.Probe = "", 0, false
	default:
		st = st.clone()
	}
	openSlices(&st, w.concurrency, st.SliceSpan)
	if len(st.Slices) == 0 {
		return w.windowDone(st), nil
	}
	limit := 1
	if w.wide {
		limit = w.concurrency
	}
	w.pool.sync(ctx, st.Slices, limit)
	r, err := w.pool.next(ctx)
	if err != nil {
		return chunk{}, err
	}
	w.wide = r.err == nil
	i := slices.IndexFunc(st.Slices, func(s sliceState) bool { return keyOf(s) == keyOf(r.s) })
	if i < 0 || st.Slices[i].Token != r.token {
		// Cannot happen: sync keeps only the walkers of the slices st asks for.
		return chunk{}, fmt.Errorf("a page of the slice from %s came for another read state", r.s.From.Format(time.RFC3339))
	}
	sl, k := &st.Slices[i], keyOf(st.Slices[i])
	if r.err != nil {
		if r.token != "" && pageTokenRefused(r.err) {
			// A saved page token the API no longer accepts (it expired, or the window changed),
			// or another refusal of this one page: read the slice again from its start, after a
			// back-off; the ids in Seen absorb the repeats.
			w.failed.Incr(1, w.feedName)
			w.failing[k] = true
			n := w.streak.failed(w.log, w.log.Warnf, w.sourceName, w.now(), fmt.Sprintf("reading the next page failed (%v); its page token may have expired, so the slice is read again from %s", r.err, sl.From.Format(time.RFC3339)))
			sl.Token = ""
			return chunk{state: &st}, &handledError{err: r.err, streak: n}
		}
		return chunk{}, r.err
	}
	walk := w.walk(k)
	next := r.page.next
	var cycle error
	if next != "" {
		if back, ok := walk.follow(r.token, next); !ok {
			cycle = &paginationCycleError{token: next, page: back}
		}
	}
	records := r.page.records()
	switch {
	case cycle != nil:
		// The page is real; what follows it cannot be trusted: read the slice again from its
		// first page, after a back-off. The checkpoint stays before the slice.
		w.cycles.Incr(1, w.feedName)
		w.failing[k] = true
		n := w.streak.failed(w.log, w.log.Errorf, w.sourceName, w.now(), fmt.Sprintf("%v; the walk ends here and the slice is read again from %s", cycle, sl.From.Format(time.RFC3339)))
		sl.Token = ""
		return chunk{records: records, state: &st, commit: true}, &handledError{err: cycle, streak: n}
	case st.Probe && r.token == "" && next != "" && w.worthSlicing(r.page.total, len(records), r.took):
		// The window holds many pages: read it in slices, from the start. The records of this
		// page are emitted now and their ids absorb the slices' repeats of them.
		delete(w.walks, k)
		delete(w.failing, k)
		st.Probe, st.SliceSpan = false, w.sliceSpan(st.WindowTo.Sub(st.WindowFrom), r.page.total, len(records))
		st.Slices, st.SliceNext = nil, st.WindowFrom
		openSlices(&st, w.concurrency, st.SliceSpan)
		w.log.Debugf("%s: reading the backlog from %s in slices of %v, %d at a time (the first page says %d records in all)", w.sourceName, st.WindowFrom.Format(time.RFC3339), st.SliceSpan, w.concurrency, r.page.total)
	case next == "":
		// The slice was read to its end.
		if w.failing[k] {
			delete(w.failing, k)
			if len(w.failing) == 0 {
				w.streak.ended(w.log, w.sourceName, "the slice was read to its end")
			}
		}
		delete(w.walks, k)
		st.Slices = slices.Delete(st.Slices, i, i+1)
		openSlices(&st, w.concurrency, st.SliceSpan)
		if len(st.Slices) == 0 {
			c := w.windowDone(st)
			c.records = records
			return c, nil
		}
	default:
		// A window of a few pages is walked on as its one slice.
		st.Probe = false
		sl.Token = next
	}
	if oldest := st.Slices[0].From; oldest.After(st.Cursor) {
		st.Cursor = oldest
	}
	return chunk{records: records, state: &st, commit: true}, nil
}

// windowDone is the chunk that ends the window st stands in, all of it read: the next window
// starts at its end less the overlap.
func (w *windowSource) windowDone(st feedState) chunk {
	if len(w.failing) > 0 {
		clear(w.failing)
		w.streak.ended(w.log, w.sourceName, "the window was read to its end")
	}
	if st.WindowTo.After(st.Cursor) {
		st.Cursor = st.WindowTo
	}
	// Caught up when the window reached what was now when it opened, unless it took slices:
	// reading those took a while, so the next window is read at once.
	live := st.WindowTo.Equal(w.liveTo) && st.SliceSpan == 0
	st.WindowFrom, st.WindowTo, st.Token, st.Slices, st.SliceNext = time.Time{}, time.Time{}, "", nil, time.Time{}
	st.SliceSpan, st.Probe = 0, false
	return chunk{state: &st, commit: true, caughtUp: live}
}

// walk is the page walk of the slice k names.
func (w *windowSource) walk(k sliceKey) *pageWalk {
	p := w.walks[k]
	if p == nil {
		if w.walks == nil {
			w.walks = map[sliceKey]*pageWalk{}
		}
		p = &pageWalk{}
		p.reset()
		w.walks[k] = p
	}
	return p
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

// pageWalk remembers the next tokens of the walk under way (the pages of one slice, or of a
// SIEM listing until it is caught up), in the order they were first given, so that a token
// pointing back at a page already read is caught instead of read in a loop. A walk read again
// after a nack or a restart follows the same tokens forward, which is no cycle.
type pageWalk struct {
	pos map[string]int // token -> page number it leads to; "" is page 0
}

// maxWalkPages bounds the tokens a walk remembers; a longer walk starts to be remembered anew.
const maxWalkPages = 100_000

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
