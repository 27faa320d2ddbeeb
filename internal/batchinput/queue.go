// Package batchinput is the plumbing both Mimecast inputs share as Benthos BatchInputs:
// background work that starts once in Connect and lives until Close (never until Connect's
// context ends), a queue that hands its batches to ReadBatch, and Close waiting for it.
package batchinput

import (
	"context"
	"sync"
	"time"

	"github.com/Jeffail/shutdown"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// Queue carries batches from an input's background work to ReadBatch.
type Queue struct {
	connMu  sync.Mutex
	started bool
	shutSig *shutdown.Signaller

	batches chan Batch
	ended   chan struct{} // closed by End
	endOnce sync.Once
}

// Batch is one batch handed to the pipeline, with the function that acknowledges it.
type Batch struct {
	Batch service.MessageBatch
	Ack   service.AckFunc
}

// New returns a queue whose work has not started.
func New() *Queue {
	return &Queue{shutSig: shutdown.NewSignaller(), batches: make(chan Batch), ended: make(chan struct{})}
}

// Connect starts the background work once: open is called with Connect's context and returns
// the work, which then runs with a context that ends when Close is called. Later calls do
// nothing.
func (q *Queue) Connect(ctx context.Context, open func(ctx context.Context) (run func(ctx context.Context), err error)) error {
	q.connMu.Lock()
	defer q.connMu.Unlock()
	if q.started {
		return nil
	}
	run, err := open(ctx)
	if err != nil {
		return err
	}
	// The work lives until Close, not until Connect's context ends.
	runCtx, cancel := q.shutSig.SoftStopCtx(context.Background())
	go func() {
		defer func() {
			cancel()
			q.shutSig.TriggerHasStopped()
		}()
		run(runCtx)
	}()
	q.started = true
	return nil
}

func (q *Queue) isStarted() bool {
	q.connMu.Lock()
	defer q.connMu.Unlock()
	return q.started
}

// Send hands a batch to ReadBatch; it blocks until ReadBatch takes it or ctx ends.
func (q *Queue) Send(ctx context.Context, b service.MessageBatch, ack service.AckFunc) error {
	select {
	case q.batches <- Batch{Batch: b, Ack: ack}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Batches is the channel ReadBatch takes batches from: a test that drives an input's work
// without a stream reads it to hold acknowledgements itself.
func (q *Queue) Batches() <-chan Batch { return q.batches }

// End makes ReadBatch report the end of the input once the batches sent before are taken.
func (q *Queue) End() { q.endOnce.Do(func() { close(q.ended) }) }

// ReadBatch is the input's ReadBatch.
func (q *Queue) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	if !q.isStarted() {
		return nil, nil, service.ErrNotConnected
	}
	select {
	case b := <-q.batches:
		return b.Batch, b.Ack, nil
	case <-q.ended:
		return nil, nil, service.ErrEndOfInput
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-q.shutSig.SoftStopChan():
		return nil, nil, service.ErrEndOfInput
	}
}

// Stop triggers a soft stop of the background work and waits for it, or for ctx.
func (q *Queue) Stop(ctx context.Context) error {
	started := q.isStarted()
	q.shutSig.TriggerSoftStop()
	if !started {
		return nil
	}
	select {
	case <-q.shutSig.HasStoppedChan():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sleep waits for d or for ctx to end; false means ctx ended.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
