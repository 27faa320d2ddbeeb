package archive

import (
	"context"
	"fmt"
)

// The ids of the open window. Seen is saved with every page and so keeps only the ids near the
// cursor and of the last page; the search promises no order and its page tokens may be refused,
// so a window read again from its first page would emit its earlier pages again. windowIDs
// holds every id this run admitted in the window, and windowWhole says they are all of the
// window's: the run read it from its first page, or loaded them from the ledger (which lists
// every message emitted) when it resumed mid-window and had to start the window over.

// openWindow starts the ids of a window; whole when the run reads it from its first page.
func (r *mailboxRun) openWindow(whole bool) {
	r.windowIDs = map[string]struct{}{}
	r.windowWhole = whole
}

// seenInWindow reports whether id was admitted in the open window.
func (r *mailboxRun) seenInWindow(id string) bool {
	_, ok := r.windowIDs[id]
	return ok
}

// restartWindow prepares a read of the open window from its first page.
func (r *mailboxRun) restartWindow(ctx context.Context) {
	r.read.Token = ""
	r.wholeWindow(ctx)
}

// wholeWindow makes windowIDs all of the open window's ids: a run that resumed mid-window
// loads the ids of the window's earlier pages from the ledger, so that a page token that leads
// back to them (a cycle, a window read again) does not emit them again. If the ledger cannot be
// read, the crawl goes on and messages of those pages may be emitted again.
func (r *mailboxRun) wholeWindow(ctx context.Context) {
	if r.windowWhole {
		return
	}
	if err := r.loadWindowIDs(ctx); err != nil {
		if ctx.Err() == nil {
			r.in.metrics.checkpointErrors.Incr(1)
			r.in.log.Errorf("%s: reading the ledger to read the window without repeats: %v; messages of its earlier pages may be emitted again", r.mailbox, err)
		}
		return
	}
	r.windowWhole = true
}

// loadWindowIDs adds the ledger's ids received inside the open window to windowIDs.
func (r *mailboxRun) loadWindowIDs(ctx context.Context) error {
	from, to := r.read.WindowFrom.UnixMilli(), r.read.WindowTo.UnixMilli()
	add := func(seg map[string]int64) {
		for id, ms := range seg {
			if ms >= from && ms <= to {
				r.windowIDs[id] = struct{}{}
			}
		}
	}
	l := r.read.Ledger
	for k := range l.Segments {
		seg, err := r.segment(ctx, l.Gen, k)
		if err != nil {
			return fmt.Errorf("ledger segment %d: %w", k, err)
		}
		add(seg)
	}
	add(l.Tail)
	return nil
}
