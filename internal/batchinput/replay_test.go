package batchinput

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// started is a queue whose work sends batch once with ack and then waits for the end.
func started(t *testing.T, replay bool, batch service.MessageBatch, ack service.AckFunc) *Queue {
	t.Helper()
	q := New()
	q.SetReplay(replay)
	require.NoError(t, q.Connect(t.Context(), func(context.Context) (func(context.Context), error) {
		return func(ctx context.Context) {
			_ = q.Send(ctx, batch, ack)
			<-ctx.Done()
		}, nil
	}))
	t.Cleanup(func() { require.NoError(t, q.Stop(context.Background())) })
	return q
}

func batchOf(texts ...string) service.MessageBatch {
	var b service.MessageBatch
	for _, s := range texts {
		b = append(b, service.NewMessage([]byte(s)))
	}
	return b
}

func texts(t *testing.T, b service.MessageBatch) []string {
	t.Helper()
	var out []string
	for _, m := range b {
		raw, err := m.AsBytes()
		require.NoError(t, err)
		out = append(out, string(raw))
	}
	return out
}

func read(t *testing.T, q *Queue) (service.MessageBatch, service.AckFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	b, ack, err := q.ReadBatch(ctx)
	require.NoError(t, err)
	return b, ack
}

func TestReplayHandsARejectedBatchOutAgainAndAcknowledgesOnceDelivered(t *testing.T) {
	cases := []struct {
		name   string
		reject func(b service.MessageBatch) error
		again  []string // what the replay holds
	}{
		{"the whole batch", func(service.MessageBatch) error { return errors.New("output down") }, []string{"a", "b", "c"}},
		{"the messages a batch error names", func(b service.MessageBatch) error {
			return service.NewBatchError(b, errors.New("some failed")).Failed(1, errors.New("b failed")).Failed(2, errors.New("c failed"))
		}, []string{"b", "c"}},
		{"a batch error naming none: the whole batch", func(b service.MessageBatch) error {
			return service.NewBatchError(b, errors.New("all failed"))
		}, []string{"a", "b", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var acked atomic.Int32
			var ackErr atomic.Value
			q := started(t, true, batchOf("a", "b", "c"), func(_ context.Context, err error) error {
				acked.Add(1)
				if err != nil {
					ackErr.Store(err)
				}
				return nil
			})
			b, ack := read(t, q)
			require.Equal(t, []string{"a", "b", "c"}, texts(t, b))
			b[0].SetBytes([]byte("changed by a processor"))
			require.NoError(t, ack(t.Context(), tc.reject(b)))
			assert.Zero(t, acked.Load(), "a rejection is not passed on")
			for attempt := range 4 { // past the attempts without back-off
				b, ack = read(t, q)
				assert.Equal(t, tc.again, texts(t, b), "attempt %d: the messages as first sent", attempt)
				if attempt < 3 {
					require.NoError(t, ack(t.Context(), errors.New("still down")))
				}
			}
			require.NoError(t, ack(t.Context(), nil))
			assert.Equal(t, int32(1), acked.Load(), "acknowledged once, when delivered")
			assert.Nil(t, ackErr.Load())
		})
	}
}

func TestWithoutReplayARejectionReachesTheInput(t *testing.T) {
	var got error
	q := started(t, false, batchOf("a"), func(_ context.Context, err error) error { got = err; return nil })
	_, ack := read(t, q)
	require.NoError(t, ack(t.Context(), errors.New("output down")))
	assert.EqualError(t, got, "output down")
}

// A queue stopped while a rejected batch waits out its back-off stops at once; the batch is
// dropped unacknowledged (its checkpoint never moved).
func TestStopDuringAReplayBackOffReturnsAtOnce(t *testing.T) {
	var acked atomic.Int32
	q := started(t, true, batchOf("a"), func(context.Context, error) error { acked.Add(1); return nil })
	for range 12 { // the back-off grows to hundreds of milliseconds
		_, ack := read(t, q)
		require.NoError(t, ack(t.Context(), errors.New("down")))
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := q.ReadBatch(context.Background())
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // ReadBatch waits for the back-off
	start := time.Now()
	require.NoError(t, q.Stop(t.Context()))
	select {
	case err := <-done:
		assert.ErrorIs(t, err, service.ErrEndOfInput)
	case <-time.After(2 * time.Second):
		t.Fatal("ReadBatch did not return after Stop")
	}
	assert.Less(t, time.Since(start), time.Second)
	assert.Zero(t, acked.Load())
}

func TestEndOfInputWaitsForTheRejectedBatches(t *testing.T) {
	var acked atomic.Int32
	q := started(t, true, batchOf("a"), func(context.Context, error) error { acked.Add(1); return nil })
	_, ack := read(t, q)
	q.End()
	require.NoError(t, ack(t.Context(), errors.New("down")))
	b, ack := read(t, q)
	assert.Equal(t, []string{"a"}, texts(t, b), "the rejected batch before the end")
	require.NoError(t, ack(t.Context(), nil))
	_, _, err := q.ReadBatch(t.Context())
	assert.ErrorIs(t, err, service.ErrEndOfInput)
	assert.Equal(t, int32(1), acked.Load())
}

func TestReplayBackoffGrowsToASecond(t *testing.T) {
	assert.Zero(t, replayBackoff(1))
	assert.Zero(t, replayBackoff(2))
	assert.Equal(t, time.Millisecond, replayBackoff(3))
	assert.Equal(t, 8*time.Millisecond, replayBackoff(6))
	assert.Equal(t, time.Second, replayBackoff(30))
}
