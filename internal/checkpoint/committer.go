package checkpoint

import (
	"context"
	"sync"
	"time"
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
//
// With Pace, a state that becomes safe soon after the last write is written a little later,
// together with the ones after it, so that writing large states does not cost more than
// reading them; Close writes what is left.
type Committer[T any] struct {
	save func(context.Context, T) error

	mu           sync.Mutex
	gen          uint64
	tracker      ackTracker[T]
	committed    T      // the newest state whose batches were all acknowledged
	committedSeq uint64 // its tracker position

	saveMu   sync.Mutex
	savedSeq uint64 // the tracker position of the newest state saved
	failed   bool   // the last write failed
	// Pacing (see Pace): the time between writes is at least factor times what the last one
	// took, and at most most; only states large says are large are paced.
	factor   int
	large    func(T) bool
	most     time.Duration
	lastAt   time.Time
	lastTook time.Duration
	timer    *time.Timer // a deferred write, when one is due
	closed   bool
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

// Pace makes the write of a state that large says is large wait, after a write that took d,
// until factor x d has passed, and never longer than most: states that become safe meanwhile
// are written together, by the last acknowledgement's Done or by a timer. A crash then reads
// again at most that much of what was acknowledged; other states are written at once. Call it
// before the first Done.
func (c *Committer[T]) Pace(factor int, most time.Duration, large func(T) bool) {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.factor, c.most, c.large = factor, most, large
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
	if wait := c.waitLocked(); wait > 0 {
		if c.timer == nil {
			c.timer = time.AfterFunc(wait, c.deferred)
		}
		return nil
	}
	return c.writeLocked(ctx)
}

// waitLocked is how long the next write is to wait by the pace; 0 once closed or unpaced, or
// after a failed write (the input retries that at once).
func (c *Committer[T]) waitLocked() time.Duration {
	if c.factor == 0 || c.closed || c.failed || c.lastAt.IsZero() {
		return 0
	}
	c.mu.Lock()
	st := c.committed
	c.mu.Unlock()
	if !c.large(st) {
		return 0
	}
	return time.Until(c.lastAt.Add(min(time.Duration(c.factor)*c.lastTook, c.most)))
}

// deferred is the timer's write of what became safe since the last write.
func (c *Committer[T]) deferred() {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.timer = nil
	if !c.closed {
		_ = c.writeLocked(context.Background())
	}
}

// writeLocked saves the newest committed state unless it is saved already.
func (c *Committer[T]) writeLocked(ctx context.Context) error {
	c.mu.Lock()
	st, seq := c.committed, c.committedSeq
	c.mu.Unlock()
	if seq <= c.savedSeq {
		return nil
	}
	start := time.Now()
	err := c.save(ctx, st)
	c.lastAt, c.lastTook = time.Now(), time.Since(start)
	c.failed = err != nil
	if err != nil {
		return err
	}
	c.savedSeq = seq
	return nil
}

// Unsaved reports whether the newest committed state is not saved because its save failed (a
// write the pace defers is not). An input stops reading while it is (see Retry), so that a
// replay after a restart does not grow with a cache outage.
func (c *Committer[T]) Unsaved() bool {
	c.mu.Lock()
	seq := c.committedSeq
	c.mu.Unlock()
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	return c.failed && seq > c.savedSeq
}

// Retry saves the newest committed state if it is not saved yet, and returns the save's error.
func (c *Committer[T]) Retry(ctx context.Context) error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	return c.writeLocked(ctx)
}

// Close writes the newest committed state if it is not saved yet, and makes every later Done
// write at once: an input calls it when it stops, so that what was acknowledged is not read
// again after a clean restart.
func (c *Committer[T]) Close(ctx context.Context) error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	return c.writeLocked(ctx)
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
