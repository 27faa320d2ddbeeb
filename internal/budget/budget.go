// Package budget bounds the bytes an input holds between fetching data and the acknowledgement
// of the batch that carries it.
package budget

import (
	"context"
	"slices"
	"sync"
)

// Bytes bounds the bytes an input holds across all its parts (the archive's mailboxes, the
// threats input's feeds): from before a fetch until the batch holding the result is
// acknowledged. Without it each part holds what its own limits allow, so memory grows with the
// number of parts and the size of the records.
//
// Waiters are served in order, so a large email is not starved by a stream of small ones, and
// an amount larger than the whole budget is granted once nothing else is held: it passes alone
// instead of waiting forever. Bytes can also be added without waiting (add), for when a fetch
// turns out to hold more than was reserved for it: the budget is then over its limit until they
// are released, and nobody new is let in meanwhile.
type Bytes struct {
	limit int64 // 0: no limit

	mu      sync.Mutex
	used    int64
	waiters []*waiter
}

type waiter struct {
	n     int64
	ready chan struct{} // closed once n was granted
}

func New(limit int64) *Bytes { return &Bytes{limit: limit} }

// fitsLocked says whether n more bytes may be held now.
func (b *Bytes) fitsLocked(n int64) bool {
	return b.limit <= 0 || b.used == 0 || b.used+n <= b.limit
}

// Limit is the budget's size; 0: no limit.
func (b *Bytes) Limit() int64 { return b.limit }

// TryAcquire takes n bytes if that needs no waiting.
func (b *Bytes) TryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) > 0 || !b.fitsLocked(n) {
		return false
	}
	b.used += n
	return true
}

// Acquire takes n bytes, waiting for releases until they fit, or until ctx ends.
func (b *Bytes) Acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.fitsLocked(n) {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		b.used -= n
	default:
		b.waiters = slices.DeleteFunc(b.waiters, func(x *waiter) bool { return x == w })
	}
	// Either way the head of the queue may fit now.
	b.grantLocked()
	return ctx.Err()
}

// Add holds n more bytes without waiting; a negative n releases.
func (b *Bytes) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used += n
	if b.used < 0 {
		panic("budget: released more than was held")
	}
	if n < 0 {
		b.grantLocked()
	}
}

// Release gives n bytes back.
func (b *Bytes) Release(n int64) { b.Add(-n) }

// Held is the bytes held now.
func (b *Bytes) Held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Waiting is how many Acquire calls wait now.
func (b *Bytes) Waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiters)
}

func (b *Bytes) grantLocked() {
	for len(b.waiters) > 0 && b.fitsLocked(b.waiters[0].n) {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.used += w.n
		close(w.ready)
	}
}
