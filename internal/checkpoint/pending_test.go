package checkpoint

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPendingWaitsForZeroOrGivesUpWithItsContext(t *testing.T) {
	var p Pending
	require.NoError(t, p.Wait(t.Context()), "nothing Pending")
	p.Add(2)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, p.Wait(ctx), context.DeadlineExceeded)
	done := make(chan error, 1)
	go func() { done <- p.Wait(t.Context()) }()
	p.Done()
	p.Done()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return at zero")
	}
	p.Add(1)
	p.Done()
	require.NoError(t, p.Wait(t.Context()), "reusable")
}
