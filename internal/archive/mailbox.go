package archive

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/checkpoint"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// archiveBatchesInFlight is how many batches of one mailbox may wait for acknowledgement at
// once; with maxArchiveBatchBytes it bounds the memory a mailbox's crawl holds.
const archiveBatchesInFlight = 4

// maxArchiveBatchBytes closes a batch early: a page of emails with large attachments becomes
// several batches rather than one of hundreds of megabytes.
const maxArchiveBatchBytes = 8 << 20

// mailboxRun crawls one mailbox in one pass. The read state (read) runs ahead of what is saved:
// each page's batches carry the state after the page, and the committer saves a state only once
// every earlier batch of the mailbox was acknowledged. A rejected batch is never acknowledged,
// so nothing after it is saved in this pass: the next crawl reads it again.
type mailboxRun struct {
	in      *archiveInput
	p       *passRun
	mailbox string
	read    mailboxState    // owned by the crawling goroutine
	pageIDs map[string]bool // ids of the page being admitted
	// pageBase is the state with the page being emitted still to read (its token, the window
	// open), and pageSegs the ledger's full segments before the page was admitted: partial
	// commits of the page start from them.
	pageBase mailboxState
	pageSegs int
	// staleSegs is how many segments an unfinished earlier re-crawl left in the generation
	// this re-crawl writes.
	staleSegs int
	slots     chan struct{} // one token per unacknowledged batch
	committer *checkpoint.Committer[mailboxCommit]

	// The ids admitted in the open window (window_ids.go); owned by the crawling goroutine.
	windowIDs   map[string]struct{}
	windowWhole bool

	mu          sync.Mutex
	pendingSegs map[[2]int]map[string]int64 // full ledger segments (gen, k) not yet saved

	// Owned by save, which the committer calls one at a time.
	savedGen  int
	savedSegs int // segments of savedGen already written
}

// mailboxCommit is a state to save once its batch and every earlier one were acknowledged;
// after runs once it was saved.
type mailboxCommit struct {
	state mailboxState
	after func()
}

func (in *archiveInput) crawlMailbox(ctx context.Context, p *passRun, mailbox string) {
	st, ok, err := in.store.loadMailbox(ctx, mailbox)
	switch {
	case errors.Is(err, errUnusableCheckpoint):
		in.metrics.checkpointErrors.Incr(1)
		in.log.Errorf("%v; crawling %s again from %s", err, mailbox, describeStart(in.cfg.startDate))
	case err != nil:
		if ctx.Err() == nil {
			in.metrics.checkpointErrors.Incr(1)
			in.log.Errorf("reading the checkpoint of %s (skipped in this crawl): %v", mailbox, err)
			p.incomplete.Store(true)
		}
		return
	}
	if !ok {
		st = mailboxState{Mailbox: mailbox}
	}
	r := &mailboxRun{
		in: in, p: p, mailbox: mailbox, read: st.clone(),
		slots:       make(chan struct{}, archiveBatchesInFlight),
		pendingSegs: map[[2]int]map[string]int64{},
		savedGen:    st.Ledger.Gen,
		savedSegs:   st.Ledger.Segments,
	}
	r.committer = checkpoint.NewCommitter(mailboxCommit{state: st}, r.save)
	if r.read.Seen == nil {
		r.read.Seen = map[string]int64{}
	}
	r.openWindow(r.read.Token == "")
	r.wholeWindow(ctx)
	if !r.run(ctx) && ctx.Err() == nil {
		p.incomplete.Store(true)
	}
}

// run crawls windows until the mailbox is read up to the pass's end; false: it stopped early.
func (r *mailboxRun) run(ctx context.Context) bool {
	if r.in.startsRecrawl(&r.read) {
		r.startRecrawl()
	}
	for {
		if !r.read.inWindow() && !r.startDelta() {
			return true
		}
		if !r.crawlWindow(ctx) {
			return false
		}
	}
}

// startsRecrawl says whether ignore_delta_tokens asks for a new re-crawl of st's mailbox: once
// per run, unless this run's re-crawl is under way (a failed pass resumes it).
func (in *archiveInput) startsRecrawl(st *mailboxState) bool {
	if !in.cfg.ignoreDelta {
		return false
	}
	in.recrawlMu.Lock()
	defer in.recrawlMu.Unlock()
	if in.recrawlDone[st.Mailbox] {
		return false
	}
	return !(st.Recrawl && st.inWindow() && in.recrawlStarted[st.Mailbox])
}

func (r *mailboxRun) startRecrawl() {
	old := r.read.Ledger
	if r.read.OldLedger != nil {
		// An earlier re-crawl did not finish: what it found is incomplete, so compare with the
		// ledger from before it. Its partial generation is the one this re-crawl writes: its
		// segments are overwritten, and those past the new end dropped when this one finishes.
		old = *r.read.OldLedger
		r.staleSegs = r.read.Ledger.Segments
	}
	r.read.OldLedger = &old
	r.read.Ledger = ledgerRef{Gen: old.Gen + 1}
	r.read.Recrawl = true
	r.read.Seen = map[string]int64{}
	r.read.WindowFrom, r.read.WindowTo, r.read.Token = r.in.cfg.startDate, r.p.to, ""
	r.openWindow(true)
	r.in.recrawlMu.Lock()
	r.in.recrawlStarted[r.mailbox] = true
	r.in.recrawlMu.Unlock()
}

// startDelta opens the window after the cursor; false when there is nothing left to read.
func (r *mailboxRun) startDelta() bool {
	cfg, st := r.in.cfg, &r.read
	from := cfg.startDate
	if !st.Cursor.IsZero() {
		if !st.Cursor.Before(r.p.to) {
			return false
		}
		if from = st.Cursor.Add(-cfg.deltaOffset); from.Before(cfg.startDate) {
			from = cfg.startDate
		}
	}
	if !from.Before(r.p.to) {
		st.Cursor = r.p.to
		return false
	}
	st.WindowFrom, st.WindowTo, st.Token = from, r.p.to, ""
	r.openWindow(true)
	return true
}

// crawlWindow reads the open window page by page; false: it stopped on an error. A page token
// the API refuses restarts the window once; a next page that leads back to a page of this walk
// ends the crawl of the mailbox with an error (the next crawl reads on from the page before).
func (r *mailboxRun) crawlWindow(ctx context.Context) bool {
	in, conn := r.in, r.in.cfg.conn
	tokenRetried := false
	walk := map[string]int{r.read.Token: 0} // token -> page it leads to, this walk
	for {
		if !r.waitSaved(ctx) {
			return false
		}
		q := mimecast.ArchiveQuery{
			Mailboxes: []string{r.mailbox},
			From:      r.read.WindowFrom,
			To:        r.read.WindowTo,
			PageSize:  conn.Client.PageSize(),
		}
		in.log.Tracef("%s: searching [%s, %s] at page %q", r.mailbox, r.read.WindowFrom.Format(time.RFC3339), r.read.WindowTo.Format(time.RFC3339), r.read.Token)
		page, err := conn.Client.ArchiveSearchPage(conn.Context(ctx), mimecast.ArchiveSearchRequest{Admin: true, Query: q.XML()}, r.read.Token)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			var apiErr *mimecast.APIError
			if r.read.Token != "" && !tokenRetried && errors.As(err, &apiErr) && !apiErr.Retryable && !apiErr.Forbidden() && !apiErr.Unauthorized() {
				// A saved page token the API no longer accepts (it expired): read the window again
				// from its start; the window's ids absorb the repeats.
				in.log.Warnf("%s: page token rejected (%v); reading the window from %s again", r.mailbox, err, r.read.WindowFrom.Format(time.RFC3339))
				r.restartWindow(ctx)
				tokenRetried = true
				walk = map[string]int{"": 0}
				continue
			}
			in.metrics.fetchErrors.Incr(1)
			if errors.As(err, &apiErr) && apiErr.Forbidden() {
				// Every mailbox gets the same answer: say it once per crawl.
				if r.p.searchForbidden.CompareAndSwap(false, true) {
					in.log.Errorf("Mimecast refused the archive search (%v): grant the API application the role Archive | Search | Read; trying again in the next crawl", err)
				}
			} else {
				in.log.Warnf("%s: searching the archive failed, trying again in the next crawl: %v", r.mailbox, err)
			}
			return false
		}
		jobs, lead := r.admit(page.Items)
		r.pageBase = r.read // before pageCommit closes the window on its last page
		if back, seen := walk[page.Next]; seen && page.Next != "" {
			// The page is real; what follows it cannot be trusted. Its messages are emitted
			// and it is committed as the page to read again, so the next crawl goes on from it.
			in.metrics.paginationCycles.Incr(1)
			in.log.Errorf("%s: pagination cycle: the next page token %s leads back to page %d of this window; trying again in the next crawl", r.mailbox, shortToken(page.Next), back+1)
			_ = r.emitPage(ctx, jobs, lead, r.pageCommit(r.read.Token, false))
			return false
		}
		walk[page.Next] = len(walk)
		last := page.Next == ""
		commit := r.pageCommit(page.Next, last)
		if err := r.emitPage(ctx, jobs, lead, commit); err != nil {
			return false
		}
		if last {
			break
		}
		r.read.Token = page.Next
	}
	if r.read.Recrawl {
		return r.finishRecrawl(ctx)
	}
	return true
}

// shortToken names a page token in a log line without writing all of a long one.
func shortToken(t string) string {
	const keep = 24
	if len(t) <= keep {
		return strconv.Quote(t)
	}
	return fmt.Sprintf("%q... (%d characters)", t[:keep], len(t))
}

// admit dedupes a page and applies exclude_subjects; it returns the messages whose content is
// to be fetched, and error-flagged messages for records that could not be decoded.
func (r *mailboxRun) admit(items []mimecast.ArchiveItem) ([]*mimecast.ArchiveItem, service.MessageBatch) {
	in := r.in
	r.pageIDs = make(map[string]bool, len(items))
	r.pageSegs = r.read.Ledger.Segments
	var (
		jobs []*mimecast.ArchiveItem
		lead service.MessageBatch
	)
	for i := range items {
		it := &items[i]
		id := it.ID()
		r.pageIDs[id] = true
		if _, dup := r.read.Seen[id]; dup || r.seenInWindow(id) {
			in.metrics.duplicates.Incr(1)
			continue
		}
		received := it.EventTime()
		if it.DecodeErr() == nil && !received.IsZero() && !in.inDateRange(received) {
			// The search's date filter may be coarser than [start_date, end_date): the bounds
			// are applied here exactly, and the message is not remembered as seen.
			continue
		}
		ms := received.UnixMilli()
		if it.DecodeErr() != nil || received.IsZero() {
			ms = in.now().UnixMilli()
		}
		r.read.Seen[id] = ms
		r.windowIDs[id] = struct{}{}
		if it.DecodeErr() != nil {
			lead = append(lead, in.undecodableMessage(r.mailbox, it))
			continue
		}
		if matchesAny(in.cfg.excludeSubjects, in.subjectOr(it.Subject)) {
			in.metrics.subjectsExcluded.Incr(1)
			continue
		}
		r.ledgerAdd(id, ms)
		jobs = append(jobs, it)
	}
	return jobs, lead
}

// inDateRange applies start_date (inclusive) and end_date (exclusive).
func (in *archiveInput) inDateRange(t time.Time) bool {
	if t.Before(in.cfg.startDate) {
		return false
	}
	return in.cfg.endDate.IsZero() || t.Before(in.cfg.endDate)
}

func (r *mailboxRun) ledgerAdd(id string, ms int64) {
	l := &r.read.Ledger
	if l.Tail == nil {
		l.Tail = map[string]int64{}
	}
	l.Tail[id] = ms
	if len(l.Tail) < ledgerSegmentSize {
		return
	}
	r.mu.Lock()
	r.pendingSegs[[2]int{l.Gen, l.Segments}] = l.Tail
	r.mu.Unlock()
	l.Segments++
	l.Tail = map[string]int64{}
}

// pageCommit prunes Seen and returns the state to save once the page is acknowledged. The last
// page of a delta window moves the cursor; the last page of a re-crawl commits nothing (its
// ledger comparison does).
func (r *mailboxRun) pageCommit(next string, last bool) *mailboxCommit {
	st := &r.read
	horizon := st.WindowTo.Add(-max(r.in.cfg.deltaOffset, 0) - time.Minute).UnixMilli()
	maps.DeleteFunc(st.Seen, func(id string, t int64) bool { return t < horizon && !r.pageIDs[id] })
	if !last {
		c := st.clone()
		c.Token = next
		return &mailboxCommit{state: c}
	}
	if st.Recrawl {
		return nil
	}
	st.Cursor, st.WindowFrom, st.WindowTo, st.Token = st.WindowTo, time.Time{}, time.Time{}, ""
	return &mailboxCommit{state: st.clone()}
}

// partialCommit is the state to save once the batches of the page sent so far are
// acknowledged, while the emails of rest are still to come: the page is read again from its
// start, and Seen skips what was sent of it. Without it a restart after a batch sent mid-page
// (one closed by size, or by a wait for the budget) would emit that batch's emails again. Nil
// when admitting the page filled a ledger segment, from which rest cannot be taken out again:
// the page's first part may then be emitted again after a restart.
func (r *mailboxRun) partialCommit(rest []*mimecast.ArchiveItem) *mailboxCommit {
	if r.pageBase.Ledger.Segments != r.pageSegs {
		return nil
	}
	c := r.pageBase.clone()
	for _, it := range rest {
		id := it.ID()
		delete(c.Seen, id)
		delete(c.Ledger.Tail, id)
	}
	return &mailboxCommit{state: c}
}

// save writes a committed state, which the committer hands over once every batch before it was
// delivered: the ledger segments it names first, then the state.
func (r *mailboxRun) save(ctx context.Context, c mailboxCommit) error {
	st := c.state
	if st.Ledger.Gen != r.savedGen {
		r.savedGen, r.savedSegs = st.Ledger.Gen, 0
	}
	for k := r.savedSegs; k < st.Ledger.Segments; k++ {
		key := [2]int{st.Ledger.Gen, k}
		r.mu.Lock()
		seg, ok := r.pendingSegs[key]
		r.mu.Unlock()
		if !ok {
			return r.saveFailed(fmt.Errorf("ledger segment %d of generation %d is not in memory", k, key[0]))
		}
		if err := r.in.store.saveSegment(ctx, r.mailbox, key[0], k, seg); err != nil {
			return r.saveFailed(err)
		}
		r.savedSegs = k + 1
		r.mu.Lock()
		delete(r.pendingSegs, key)
		r.mu.Unlock()
	}
	if err := r.in.store.saveMailbox(ctx, st); err != nil {
		return r.saveFailed(err)
	}
	if r.in.saveFailing.CompareAndSwap(true, false) {
		r.in.log.Infof("checkpoints are written again; crawling goes on")
	}
	if c.after != nil {
		c.after()
	}
	return nil
}

func (r *mailboxRun) saveFailed(err error) error {
	r.in.metrics.checkpointErrors.Incr(1)
	r.p.incomplete.Store(true) // a save that fails after the mailbox's last page waits for the next crawl
	if r.in.saveFailing.CompareAndSwap(false, true) {
		r.in.log.Errorf("%s: saving the checkpoint failed: %v; mailboxes read no further until checkpoints can be written", r.mailbox, err)
	} else {
		r.in.log.Debugf("%s: saving the checkpoint failed again: %v", r.mailbox, err)
	}
	return err
}

// waitSaved holds the crawl of the mailbox while its newest committed state is not saved,
// retrying the save with back-off, so that what the next crawl reads again does not grow with
// an outage of the cache. False when ctx ended first.
func (r *mailboxRun) waitSaved(ctx context.Context) bool {
	wait := 100 * time.Millisecond
	for r.committer.Unsaved() {
		if r.committer.Retry(ctx) == nil {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
		wait = min(wait*2, 30*time.Second)
	}
	return true
}

// segment returns a full ledger segment of the read side, from memory when it is not saved yet.
func (r *mailboxRun) segment(ctx context.Context, gen, k int) (map[string]int64, error) {
	r.mu.Lock()
	seg, ok := r.pendingSegs[[2]int{gen, k}]
	r.mu.Unlock()
	if ok {
		return seg, nil
	}
	// Not pending: save wrote it before dropping it from pendingSegs.
	return r.in.store.loadSegment(ctx, r.mailbox, gen, k)
}
