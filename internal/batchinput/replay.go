package batchinput

import (
	"context"
	"errors"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// replayed is a batch the output rejected, to be handed to ReadBatch again: the messages not yet
// delivered, as they were first sent, and the input's own acknowledgement, called once all of
// them were.
type replayed struct {
	batch    service.MessageBatch
	ack      service.AckFunc
	attempts int
	due      time.Time
}

// SetReplay makes the queue replay rejected batches itself (the auto_replay_nacks field): a
// nack puts the batch (or, for a batch error, the messages it names) back in line after a
// back-off, and the input's acknowledgement runs once everything was delivered. Benthos' own
// wrapper for this can hang a stream's shutdown for good when it stops during a back-off; this
// one ends with ReadBatch, dropping what was not delivered, whose checkpoints never moved.
func (q *Queue) SetReplay(on bool) { q.replay = on }

// ReplayAsConfigured sets replay from conf's auto_replay_nacks field.
func (q *Queue) ReplayAsConfigured(conf *service.ParsedConfig) error {
	on, err := conf.FieldBool(service.AutoRetryNacksToggleFieldName)
	if err != nil {
		return err
	}
	q.SetReplay(on)
	return nil
}

// replayBackoff is the wait before attempt n of a rejected batch: at once for the first two,
// then from 1ms doubling up to a second, as Benthos' own replay waits.
func replayBackoff(n int) time.Duration {
	if n <= 2 {
		return 0
	}
	return min(time.Millisecond<<min(n-3, 10), time.Second)
}

// hand returns the batch to give to ReadBatch's caller and its acknowledgement: b itself
// without replay, else a copy whose nack replays it.
func (q *Queue) hand(r *replayed) (service.MessageBatch, service.AckFunc, error) {
	if !q.replay {
		return r.batch, r.ack, nil
	}
	out := r.batch.Copy()
	index := out.Index()
	return out, func(ctx context.Context, err error) error {
		if err == nil {
			return r.ack(ctx, nil)
		}
		var bErr *service.BatchError
		if errors.As(err, &bErr) && bErr.IndexedErrors() > 0 {
			failed := make([]bool, len(r.batch))
			some := false
			bErr.WalkMessagesIndexedBy(index, func(i int, _ *service.Message, e error) bool {
				if e != nil && i >= 0 && i < len(failed) {
					failed[i], some = true, true
				}
				return true
			})
			if some {
				var keep service.MessageBatch
				for i, m := range r.batch {
					if failed[i] {
						keep = append(keep, m)
					}
				}
				r.batch = keep
			}
		}
		r.attempts++
		r.due = time.Now().Add(replayBackoff(r.attempts))
		q.retryMu.Lock()
		q.retries = append(q.retries, r)
		q.retryMu.Unlock()
		select {
		case q.retryAdded <- struct{}{}:
		default:
		}
		return nil
	}, nil
}

// dueRetry takes the first rejected batch whose back-off is over; otherwise it returns how long
// until the next one is due (0: none waits).
func (q *Queue) dueRetry() (*replayed, time.Duration) {
	q.retryMu.Lock()
	defer q.retryMu.Unlock()
	now := time.Now()
	var next time.Duration
	for i, r := range q.retries {
		if wait := r.due.Sub(now); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		q.retries = append(q.retries[:i:i], q.retries[i+1:]...)
		return r, 0
	}
	return nil, next
}

func (q *Queue) retriesPending() bool {
	q.retryMu.Lock()
	defer q.retryMu.Unlock()
	return len(q.retries) > 0
}
