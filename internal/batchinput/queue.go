// Package batchinput is the plumbing both Mimecast inputs share as Benthos BatchInputs:
// background work that starts once in Connect and lives until Close (never until Connect's
// context ends), a queue that hands its batches to ReadBatch and replays the rejected ones
// (auto_replay_nacks), the input's failing state as Benthos' connection status, and Close
// waiting for the work.
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

	// failing is why the input cannot deliver anything until it heals (every part of it is
	// refused), or nil; changed is closed and replaced whenever it changes.
	failMu   sync.Mutex
	failing  error
	changed  chan struct{}
	reported bool // Connect has returned failing since it was set

	// replay: rejected batches are handed out again (see SetReplay); retries are those waiting.
	replay     bool
	retryMu    sync.Mutex
	retries    []*replayed
	retryAdded chan struct{}
}

// Batch is one batch handed to the pipeline, with the function that acknowledges it.
type Batch struct {
	Batch service.MessageBatch
	Ack   service.AckFunc
}

// New returns a queue whose work has not started.
func New() *Queue {
	return &Queue{shutSig: shutdown.NewSignaller(), batches: make(chan Batch), ended: make(chan struct{}), changed: make(chan struct{}), retryAdded: make(chan struct{}, 1)}
}

// failRecheck is how long Connect waits for a failing input to heal before it reports the
// failure again: Benthos logs each report as an ERROR, so a lasting failure is repeated once a
// minute, and a healed one is delivering again at once.
const failRecheck = time.Minute

// SetFailing marks the input as unable to deliver anything until it heals, err saying why (the
// parts of the input log their own failures); nil marks it healthy. While it fails, ReadBatch
// reports the input as not connected, so Benthos shows it in /ready (503, with err) and in
// input_connection_failed, and Connect returns err once a minute until it heals.
func (q *Queue) SetFailing(err error) {
	q.failMu.Lock()
	defer q.failMu.Unlock()
	if errText(q.failing) == errText(err) {
		return
	}
	q.failing = err
	if err == nil {
		q.reported = false
	}
	close(q.changed)
	q.changed = make(chan struct{})
}

// errText is err's text, "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// failState is the current failure and the channel closed on its next change.
func (q *Queue) failState() (error, chan struct{}) {
	q.failMu.Lock()
	defer q.failMu.Unlock()
	return q.failing, q.changed
}

// connectFailing is Connect on a started input that fails: the first time it reports the
// failure at once; later it waits for the input to heal (nil) or for failRecheck to pass (the
// failure, reported again), or for ctx.
func (q *Queue) connectFailing(ctx context.Context) error {
	q.failMu.Lock()
	first := !q.reported
	q.reported = true
	q.failMu.Unlock()
	if !first {
		timer := time.NewTimer(failRecheck)
		defer timer.Stop()
	wait:
		for {
			err, changed := q.failState()
			if err == nil {
				return nil
			}
			select {
			case <-changed:
			case <-timer.C:
				break wait
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	err, _ := q.failState()
	if err == nil {
		return nil
	}
	// No further wait in Benthos: the next Connect waits here, where healing ends the wait.
	return service.NewErrBackOff(err, time.Millisecond)
}

// Connect starts the background work once: open is called with Connect's context and returns
// the work, which then runs with a context that ends when Close is called. Later calls do
// nothing, unless the input is failing (see SetFailing): then they report it.
func (q *Queue) Connect(ctx context.Context, open func(ctx context.Context) (run func(ctx context.Context), err error)) error {
	if q.isStarted() {
		if err, _ := q.failState(); err != nil {
			return q.connectFailing(ctx)
		}
		return nil
	}
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
	ended := q.ended
	for {
		failing, changed := q.failState()
		if failing != nil {
			return nil, nil, service.ErrNotConnected
		}
		r, wait := q.dueRetry()
		if r != nil {
			return q.hand(r)
		}
		var (
			timer *time.Timer
			due   <-chan time.Time
		)
		if wait > 0 {
			timer = time.NewTimer(wait)
			due = timer.C
		}
		stop := func() {
			if timer != nil {
				timer.Stop()
			}
		}
		select {
		case <-changed: // failing now: say so
		case <-q.retryAdded:
		case <-due:
		case b := <-q.batches:
			stop()
			return q.hand(&replayed{batch: b.Batch, ack: b.Ack})
		case <-ended:
			if !q.retriesPending() {
				stop()
				return nil, nil, service.ErrEndOfInput
			}
			ended = nil // the rejected batches first
		case <-ctx.Done():
			stop()
			return nil, nil, ctx.Err()
		case <-q.shutSig.SoftStopChan():
			stop()
			return nil, nil, service.ErrEndOfInput
		}
		stop()
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
