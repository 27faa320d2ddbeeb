package enrich

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// flightGroup merges concurrent resolutions of the same key: the first caller (the leader) runs
// fn, the others wait for its outcome. It spans every batch of the processor, so two pipeline
// threads asking about one message at once cost one lookup.
//
// Unlike golang.org/x/sync/singleflight, a waiter stops waiting when its own context ends, and a
// leader cancelled by its context does not hand that cancellation to waiters whose contexts are
// still live: they run the lookup again.
type flightGroup struct {
	mu    sync.Mutex
	calls map[string]*flight
}

type flight struct {
	done    chan struct{}
	out     *outcome
	err     error
	waiters int // callers that joined; guarded by flightGroup.mu
}

func newFlightGroup() *flightGroup { return &flightGroup{calls: map[string]*flight{}} }

// do returns fn's outcome for key, running fn only when no other caller is running it. shared
// reports whether the outcome came from another caller's run.
func (g *flightGroup) do(ctx context.Context, key string, fn func() (*outcome, error)) (out *outcome, shared bool, err error) {
	for {
		g.mu.Lock()
		f, running := g.calls[key]
		if !running {
			f = &flight{done: make(chan struct{})}
			g.calls[key] = f
			g.mu.Unlock()
			g.lead(key, f, fn)
			return f.out, false, f.err
		}
		f.waiters++
		g.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, true, ctx.Err()
		}
		if isContextErr(f.err) && ctx.Err() == nil {
			continue // the leader gave up, not the lookup: try again on our own context
		}
		return f.out, true, f.err
	}
}

// lead runs fn for the waiters of f. The entry is removed before done is closed, so a caller
// that arrives after the outcome is published starts afresh (and finds the cache filled).
func (g *flightGroup) lead(key string, f *flight, fn func() (*outcome, error)) {
	defer func() {
		if r := recover(); r != nil {
			f.out, f.err = nil, fmt.Errorf("looking up message: panic: %v", r)
		}
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(f.done)
	}()
	f.out, f.err = fn()
}

// waiting returns how many callers wait on the lookup of key.
func (g *flightGroup) waiting(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.calls[key]; ok {
		return f.waiters
	}
	return 0
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
