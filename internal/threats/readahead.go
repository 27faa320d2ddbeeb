package threats

import (
	"context"
	"sync"
	"time"
)

// pageReadAhead reads the next page of a window while the current one goes through the pipeline.
// One source reads its pages in order (each page's token comes from the one before), so without
// it the API's time to produce a page and this input's time to decode and emit the previous one
// add up; with it they overlap. At most one page is read ahead, and only a page the source will
// ask for next: a read-ahead whose window or token no longer matches (a nack reset the read
// state) is cancelled and dropped, so nothing is skipped and only that one call is spent.
type pageReadAhead struct {
	page windowPageFunc

	pending *aheadPage
	wg      sync.WaitGroup
}

// aheadPage is one page being read ahead, and its result once done is closed.
type aheadPage struct {
	from, to time.Time
	token    string
	cancel   context.CancelFunc
	done     chan struct{}

	page windowPage
	err  error
}

// read returns the page (from, to, token): the one read ahead when it is that page, otherwise
// read now.
func (a *pageReadAhead) read(ctx context.Context, from, to time.Time, token string) (windowPage, error) {
	if p := a.pending; p != nil {
		a.pending = nil
		if p.from.Equal(from) && p.to.Equal(to) && p.token == token {
			select {
			case <-p.done:
				p.cancel()
				return p.page, p.err
			case <-ctx.Done():
				p.cancel()
				return windowPage{}, ctx.Err()
			}
		}
		p.cancel()
	}
	return a.page(ctx, from, to, token)
}

// start begins reading the page (from, to, token) in the background.
func (a *pageReadAhead) start(ctx context.Context, from, to time.Time, token string) {
	if a.pending != nil {
		a.pending.cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &aheadPage{from: from, to: to, token: token, cancel: cancel, done: make(chan struct{})}
	a.pending = p
	a.wg.Go(func() {
		defer close(p.done)
		p.page, p.err = a.page(ctx, from, to, token)
	})
}

// close cancels a page still being read ahead and waits for its reader to return.
func (a *pageReadAhead) close() {
	if a.pending != nil {
		a.pending.cancel()
		a.pending = nil
	}
	a.wg.Wait()
}
