package checkpoint

import (
	"context"
	"sync"
)

// Pending counts batches handed to the pipeline and not yet acknowledged. Unlike a
// sync.WaitGroup, waiting for it can be given up when ctx ends, without leaving a goroutine
// behind blocked on acknowledgements that a stopped pipeline will never send.
type Pending struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed while n == 0
}

func (p *Pending) Add(delta int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.zero == nil {
		p.zero = make(chan struct{})
		close(p.zero)
	}
	if p.n == 0 && delta > 0 {
		p.zero = make(chan struct{})
	}
	p.n += delta
	if p.n < 0 {
		panic("Pending: negative count")
	}
	if p.n == 0 {
		close(p.zero)
	}
}

func (p *Pending) Done() { p.Add(-1) }

// Wait blocks until the count is zero or ctx ends.
func (p *Pending) Wait(ctx context.Context) error {
	p.mu.Lock()
	if p.n == 0 {
		p.mu.Unlock()
		return nil
	}
	zero := p.zero
	p.mu.Unlock()
	select {
	case <-zero:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
