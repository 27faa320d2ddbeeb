package enrich

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlightWaiterStopsWaitingWhenItsContextEnds(t *testing.T) {
	g := newFlightGroup()
	started, release := make(chan struct{}), make(chan struct{})
	leaderDone := make(chan struct{})
	go func() {
		defer close(leaderDone)
		_, _, _ = g.do(context.Background(), "k", func() (*outcome, error) { close(started); <-release; return &outcome{}, nil })
	}()
	<-started

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, shared, err := g.do(ctx, "k", func() (*outcome, error) { t.Error("a waiter must not run the lookup"); return nil, nil })
	assert.True(t, shared)
	require.ErrorIs(t, err, context.Canceled)

	close(release)
	<-leaderDone
}

func TestFlightWaiterRunsAgainWhenTheLeaderWasCancelled(t *testing.T) {
	g := newFlightGroup()
	started, release := make(chan struct{}), make(chan struct{})
	leaderDone := make(chan struct{})
	go func() {
		defer close(leaderDone)
		_, _, err := g.do(context.Background(), "k", func() (*outcome, error) { close(started); <-release; return nil, context.Canceled })
		assert.ErrorIs(t, err, context.Canceled, "the leader sees its own outcome")
	}()
	<-started

	var runs atomic.Int32
	got := make(chan error, 1)
	go func() {
		_, _, err := g.do(t.Context(), "k", func() (*outcome, error) { runs.Add(1); return &outcome{raw: []byte(`{}`)}, nil })
		got <- err
	}()
	waitUntil(t, 5*time.Second, "the waiter to join", func() bool { return g.waiting("k") == 1 })
	close(release)

	require.NoError(t, <-got)
	assert.Equal(t, int32(1), runs.Load(), "the waiter ran the lookup on its own live context")
	<-leaderDone
}

func TestFlightSharesTheLeadersOutcomeAndForgetsIt(t *testing.T) {
	g := newFlightGroup()
	release := make(chan struct{})
	boom := errors.New("boom")
	results := make(chan error, 3)
	for range 3 {
		go func() {
			_, _, err := g.do(t.Context(), "k", func() (*outcome, error) { <-release; return nil, boom })
			results <- err
		}()
	}
	waitUntil(t, 5*time.Second, "two callers to wait on the first", func() bool { return g.waiting("k") == 2 })
	close(release)
	for range 3 {
		assert.ErrorIs(t, <-results, boom)
	}

	out, shared, err := g.do(t.Context(), "k", func() (*outcome, error) { return &outcome{raw: []byte(`{}`)}, nil })
	require.NoError(t, err)
	assert.False(t, shared, "a finished lookup is not reused: the cache is the memory")
	assert.JSONEq(t, `{}`, string(out.raw))
}

func TestFlightPanicInALookupBecomesAnError(t *testing.T) {
	g := newFlightGroup()
	_, _, err := g.do(t.Context(), "k", func() (*outcome, error) { panic("bad record") })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad record")
	assert.Zero(t, g.waiting("k"))
}
