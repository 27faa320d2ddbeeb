package budget

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// acquireAsync starts Acquire(n) and returns a channel that receives its result.
func acquireAsync(ctx context.Context, b *Bytes, n int64) <-chan error {
	done := make(chan error, 1)
	go func() { done <- b.Acquire(ctx, n) }()
	return done
}

// waitForWaiters waits until n acquires are queued.
func waitForWaiters(t *testing.T, b *Bytes, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return b.Waiting() == n }, 5*time.Second, time.Millisecond)
}

func granted(ch <-chan error) bool {
	select {
	case err := <-ch:
		return err == nil
	default:
		return false
	}
}

func TestBudgetServesWaitersInOrderAndLetsAnOversizeAmountPassAlone(t *testing.T) {
	b := New(100)
	require.True(t, b.TryAcquire(60))
	big := acquireAsync(t.Context(), b, 500) // more than the whole budget
	waitForWaiters(t, b, 1)
	small := acquireAsync(t.Context(), b, 10)
	waitForWaiters(t, b, 2)
	assert.False(t, b.TryAcquire(10), "nobody jumps the queue, even when it would fit")

	b.Release(60)
	require.NoError(t, <-big, "an amount over the budget is granted once nothing else is held")
	assert.Equal(t, int64(500), b.Held())
	assert.False(t, granted(small), "the next waiter waits while the oversize amount is held")

	b.Release(500)
	require.NoError(t, <-small)
	assert.Equal(t, int64(10), b.Held())
}

func TestBudgetGivenUpWaiterLetsTheNextOneThrough(t *testing.T) {
	b := New(100)
	require.True(t, b.TryAcquire(50))
	ctx, cancel := context.WithCancel(t.Context())
	first := acquireAsync(ctx, b, 80)
	waitForWaiters(t, b, 1)
	second := acquireAsync(t.Context(), b, 40)
	waitForWaiters(t, b, 2)

	cancel()
	require.ErrorIs(t, <-first, context.Canceled)
	require.NoError(t, <-second, "40 fits beside 50 once the waiter ahead of it gave up")
	assert.Equal(t, int64(90), b.Held())
}

func TestBudgetAddedBytesMayGoOverTheLimitAndHoldNewcomersBack(t *testing.T) {
	b := New(100)
	require.True(t, b.TryAcquire(50))
	b.Add(70) // a fetch held more than it reserved
	assert.Equal(t, int64(120), b.Held())
	assert.False(t, b.TryAcquire(1))
	waiter := acquireAsync(t.Context(), b, 30)
	waitForWaiters(t, b, 1)
	b.Release(20)
	assert.False(t, granted(waiter), "100 held: 30 more does not fit")
	b.Release(30)
	require.NoError(t, <-waiter)
	assert.Equal(t, int64(100), b.Held())
}

func TestBudgetWithoutLimitNeverWaits(t *testing.T) {
	b := New(0)
	require.True(t, b.TryAcquire(1<<40))
	require.NoError(t, b.Acquire(t.Context(), 1<<40))
}
