package archive

import (
	"context"
	"slices"
	"sync"
)

// byteBudget bounds the bytes of fetched emails and attachments that an archive input holds,
// across all its mailboxes: from before a fetch until the batch holding the result is
// acknowledged. Without it each mailbox holds what its own limits allow (request_concurrency
// fetches, a batch being built, batches waiting to be read), so memory grows with
// mailbox_concurrency.
//
// Waiters are served in order, so a large email is not starved by a stream of small ones, and
// an amount larger than the whole budget is granted once nothing else is held: it passes alone
// instead of waiting forever. Bytes can also be added without waiting (add), for when a fetch
// turns out to hold more than was reserved for it: the budget is then over its limit until they
// are released, and nobody new is let in meanwhile.
type byteBudget struct {
	limit int64 // 0: no limit

	mu      sync.Mutex
	used    int64
	waiters []*budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once n was granted
}

func newByteBudget(limit int64) *byteBudget { return &byteBudget{limit: limit} }

// fitsLocked says whether n more bytes may be held now.
func (b *byteBudget) fitsLocked(n int64) bool {
	return b.limit <= 0 || b.used == 0 || b.used+n <= b.limit
}

// tryAcquire takes n bytes if that needs no waiting.
func (b *byteBudget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) > 0 || !b.fitsLocked(n) {
		return false
	}
	b.used += n
	return true
}

// acquire takes n bytes, waiting for releases until they fit, or until ctx ends.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.fitsLocked(n) {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
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
		b.waiters = slices.DeleteFunc(b.waiters, func(x *budgetWaiter) bool { return x == w })
	}
	// Either way the head of the queue may fit now.
	b.grantLocked()
	return ctx.Err()
}

// add holds n more bytes without waiting; a negative n releases.
func (b *byteBudget) add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used += n
	if b.used < 0 {
		panic("byteBudget: released more than was held")
	}
	if n < 0 {
		b.grantLocked()
	}
}

func (b *byteBudget) release(n int64) { b.add(-n) }

// held is the bytes held now.
func (b *byteBudget) held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

func (b *byteBudget) grantLocked() {
	for len(b.waiters) > 0 && b.fitsLocked(b.waiters[0].n) {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.used += w.n
		close(w.ready)
	}
}
