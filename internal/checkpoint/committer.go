package checkpoint

import (
	"context"
	"sync"
)

// Committer saves state N only after every batch up to N was acknowledged. An input asks for a
// Ticket for each batch it hands to the pipeline, in the order it reads them, and calls Done
// with the ticket when the batch is acknowledged; a batch may carry the state to save once it
// and every earlier batch are done. Acknowledgements may come in any order and concurrently:
// saves are made one at a time, and a state older than one already saved is never written.
//
// Reset starts a new generation: the batches in flight are forgotten (their tickets commit
// nothing any more), and reading starts again from the newest state already committed. An input
// calls it when a batch was rejected and is to be read again.
type Committer[T any] struct {
	save func(context.Context, T) error

	mu           sync.Mutex
	gen          uint64
	tracker      ackTracker[T]
	committed    T      // the newest state whose batches were all acknowledged
	committedSeq uint64 // its tracker position

	saveMu   sync.Mutex
	savedSeq uint64 // the tracker position of the newest state saved
}

// Ticket stands for one batch handed to the pipeline.
type Ticket struct {
	gen, seq uint64
}

// NewCommitter returns a committer whose committed state is initial (the state loaded at
// start-up) and which writes states with save.
func NewCommitter[T any](initial T, save func(context.Context, T) error) *Committer[T] {
	return &Committer[T]{save: save, committed: initial}
}

// Generation is the current generation; Reset moves it on.
func (c *Committer[T]) Generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// Add returns the ticket of the next batch, or false when gen is no longer the current
// generation (a Reset came in between: the batch is read again, so it is not to be sent).
func (c *Committer[T]) Add(gen uint64) (Ticket, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return Ticket{}, false
	}
	return Ticket{gen: gen, seq: c.tracker.add()}, true
}

// Current reports whether t belongs to the current generation.
func (c *Committer[T]) Current(t Ticket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return t.gen == c.gen
}

// Done records that t's batch was acknowledged. When state is not nil it is the state to save
// once this batch and every earlier one are done. Done saves the newest state that became safe,
// unless a newer one was saved already, and returns the save's error. A ticket of an earlier
// generation commits nothing.
func (c *Committer[T]) Done(ctx context.Context, t Ticket, state *T) error {
	c.mu.Lock()
	if t.gen != c.gen {
		c.mu.Unlock()
		return nil
	}
	st, upTo, ok := c.tracker.done(t.seq, state)
	if ok {
		c.committed, c.committedSeq = st, upTo
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	if upTo <= c.savedSeq {
		return nil // a later state was saved already
	}
	if err := c.save(ctx, st); err != nil {
		return err
	}
	c.savedSeq = upTo
	return nil
}

// Unsaved reports whether the newest committed state is not saved: its save failed. An input
// stops reading while it is (see Retry), so that a replay after a restart does not grow with a
// cache outage.
func (c *Committer[T]) Unsaved() bool {
	c.mu.Lock()
	seq := c.committedSeq
	c.mu.Unlock()
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	return seq > c.savedSeq
}

// Retry saves the newest committed state if it is not saved yet, and returns the save's error.
func (c *Committer[T]) Retry(ctx context.Context) error {
	c.mu.Lock()
	st, seq := c.committed, c.committedSeq
	c.mu.Unlock()
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	if seq <= c.savedSeq {
		return nil
	}
	if err := c.save(ctx, st); err != nil {
		return err
	}
	c.savedSeq = seq
	return nil
}

// Reset forgets the batches in flight, starts a new generation and returns it with the newest
// committed state, where reading starts again. It does nothing and returns false when gen is
// not the current generation (another reset came first).
func (c *Committer[T]) Reset(gen uint64) (uint64, T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		var zero T
		return c.gen, zero, false
	}
	c.gen++
	// Positions keep counting across generations, so that savedSeq stays comparable.
	c.tracker = ackTracker[T]{next: c.tracker.next, low: c.tracker.next}
	return c.gen, c.committed, true
}
