package threats

import (
	"context"
	"sync"
	"time"
)

// slicePool reads the open slices of a window at once: one walker per slice asks for its pages
// one after the other (each page's token comes from the one before) and hands each page over
// as soon as it is read, so a backlog is read at up to backfill_concurrency pages per round
// trip instead of one. A walker reads one page ahead of what was taken from it: what the pool
// holds is bounded by the number of slices, whatever the pipeline's pace.
//
// The pool is owned by the source's runner goroutine. sync matches the walkers to the slices of
// the read state: a walker whose slice is no longer open, or whose next page is not the one the
// state asks for (a nack reset the read state, a refused token restarts the slice), is
// cancelled and its pages are dropped, so nothing is skipped and only the pages it read ahead
// are spent.
type slicePool struct {
	page    windowPageFunc
	results chan slicePage
	walkers map[sliceKey]*sliceWalker
	wg      sync.WaitGroup
}

// sliceKey names a slice by its bounds.
type sliceKey struct{ from, to int64 }

func keyOf(s sliceState) sliceKey { return sliceKey{s.From.UnixNano(), s.To.UnixNano()} }

// sliceWalker reads the pages of one slice in the background.
type sliceWalker struct {
	cancel context.CancelFunc
	// next is the token of the page the walker hands over next; ended says it hands over
	// nothing more (its last page, or a failure, was taken). Both are the runner's.
	next  string
	ended bool
}

// slicePage is a page a walker read: the page read with token in slice s, or why it failed.
type slicePage struct {
	w     *sliceWalker
	s     sliceState
	token string
	page  windowPage
	err   error
	took  time.Duration // how long the call took
}

func newSlicePool(page windowPageFunc) *slicePool {
	return &slicePool{page: page, results: make(chan slicePage), walkers: map[sliceKey]*sliceWalker{}}
}

// sync leaves a walker at the next page of the first limit slices of open that have one or can
// have one, and no other walker: a walker whose slice is still open keeps walking.
func (p *slicePool) sync(ctx context.Context, open []sliceState, limit int) {
	want := make(map[sliceKey]string, len(open))
	for _, s := range open {
		want[keyOf(s)] = s.Token
	}
	for k, w := range p.walkers {
		if token, ok := want[k]; !ok || w.ended || w.next != token {
			w.cancel()
			delete(p.walkers, k)
		}
	}
	for _, s := range open {
		if len(p.walkers) >= limit {
			return
		}
		if _, ok := p.walkers[keyOf(s)]; !ok {
			p.start(ctx, s)
		}
	}
}

// start begins walking slice s from its token.
func (p *slicePool) start(ctx context.Context, s sliceState) {
	ctx, cancel := context.WithCancel(ctx)
	w := &sliceWalker{cancel: cancel, next: s.Token}
	p.walkers[keyOf(s)] = w
	p.wg.Go(func() {
		token := s.Token
		for {
			start := time.Now()
			page, err := p.page(ctx, s.From, s.To, token)
			if ctx.Err() != nil {
				return
			}
			select {
			case p.results <- slicePage{w: w, s: s, token: token, page: page, err: err, took: time.Since(start)}:
			case <-ctx.Done():
				return
			}
			if err != nil || page.next == "" {
				return
			}
			token = page.next
		}
	})
}

// next waits for the next page of a walker that sync kept, and notes what that walker hands
// over after it.
func (p *slicePool) next(ctx context.Context) (slicePage, error) {
	for {
		select {
		case r := <-p.results:
			if p.walkers[keyOf(r.s)] != r.w {
				continue // a walker cancelled since
			}
			r.w.next = r.page.next
			r.w.ended = r.err != nil || r.page.next == ""
			return r, nil
		case <-ctx.Done():
			return slicePage{}, ctx.Err()
		}
	}
}

// close cancels every walker and waits for them to return.
func (p *slicePool) close() {
	for k, w := range p.walkers {
		w.cancel()
		delete(p.walkers, k)
	}
	p.wg.Wait()
}

// openSlices opens slices of the window in st, from SliceNext on, until n are open or the
// window's end is reached. Slices are span long, cut at whole seconds (the API's time
// resolution) where span allows, and the last one ends at the window's end; span 0 reads the
// window as one slice.
func openSlices(st *feedState, n int, span time.Duration) {
	for len(st.Slices) < n && st.SliceNext.Before(st.WindowTo) {
		to := st.WindowTo
		if span > 0 {
			end := st.SliceNext.Add(span)
			if span >= 2*time.Second {
				end = end.Truncate(time.Second)
			}
			// A last slice of less than half a span is read with the one before it.
			if end.Before(st.WindowTo) && st.WindowTo.Sub(end) >= span/2 {
				to = end
			}
		}
		st.Slices = append(st.Slices, sliceState{From: st.SliceNext, To: to})
		st.SliceNext = to
	}
}
