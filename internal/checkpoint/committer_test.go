package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// savedStates records what a committer saved, failing the saves it is told to fail.
type savedStates struct {
	mu    sync.Mutex
	saved []string
	fail  bool
}

func (s *savedStates) save(_ context.Context, st string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("cache down")
	}
	s.saved = append(s.saved, st)
	return nil
}

func (s *savedStates) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.saved...)
}

func state(s string) *string { return &s }

func TestCommitterSavesOnlyStatesWhoseBatchesWereAllAcknowledged(t *testing.T) {
	var s savedStates
	c := NewCommitter("start", s.save)
	gen := c.Generation()
	a, _ := c.Add(gen)
	b, _ := c.Add(gen)
	d, _ := c.Add(gen)

	require.NoError(t, c.Done(t.Context(), b, state("after b")))
	assert.Empty(t, s.list(), "b was acknowledged before a")
	require.NoError(t, c.Done(t.Context(), d, state("after d")))
	assert.Empty(t, s.list())
	require.NoError(t, c.Done(t.Context(), a, state("after a")))
	assert.Equal(t, []string{"after d"}, s.list(), "a, b and d are done: only the newest state is written")
}

func TestCommitterRetriesAFailedSaveWithTheNextState(t *testing.T) {
	s := savedStates{fail: true}
	c := NewCommitter("start", s.save)
	gen := c.Generation()
	a, _ := c.Add(gen)
	b, _ := c.Add(gen)
	require.Error(t, c.Done(t.Context(), a, state("after a")))
	s.fail = false
	require.NoError(t, c.Done(t.Context(), b, state("after b")))
	assert.Equal(t, []string{"after b"}, s.list())
}

func TestCommitterResetForgetsBatchesInFlight(t *testing.T) {
	var s savedStates
	c := NewCommitter("start", s.save)
	gen := c.Generation()
	a, _ := c.Add(gen)
	b, _ := c.Add(gen)
	require.NoError(t, c.Done(t.Context(), a, state("after a")))
	assert.Equal(t, []string{"after a"}, s.list())

	newGen, from, ok := c.Reset(gen)
	require.True(t, ok)
	assert.Equal(t, "after a", from, "reading starts again after the last acknowledged state")
	_, _, again := c.Reset(gen)
	assert.False(t, again, "a second reset of the same generation does nothing")
	assert.False(t, c.Current(b))
	_, ok = c.Add(gen)
	assert.False(t, ok, "a batch of the old generation is not sent")

	require.NoError(t, c.Done(t.Context(), b, state("after b")))
	assert.Equal(t, []string{"after a"}, s.list(), "an acknowledgement of the old generation commits nothing")

	e, ok := c.Add(newGen)
	require.True(t, ok)
	require.NoError(t, c.Done(t.Context(), e, state("after e")))
	assert.Equal(t, []string{"after a", "after e"}, s.list())
}

func TestCommitterConcurrentAcknowledgementsSaveInOrder(t *testing.T) {
	var (
		mu    sync.Mutex
		saved []int
	)
	c := NewCommitter(-1, func(_ context.Context, n int) error {
		mu.Lock()
		defer mu.Unlock()
		saved = append(saved, n)
		return nil
	})
	gen := c.Generation()
	const n = 200
	tickets := make([]Ticket, n)
	for i := range tickets {
		tickets[i], _ = c.Add(gen)
	}
	var wg sync.WaitGroup
	for i := n - 1; i >= 0; i-- {
		wg.Go(func() { assert.NoError(t, c.Done(t.Context(), tickets[i], &i)) })
	}
	wg.Wait()
	require.NotEmpty(t, saved)
	assert.IsIncreasing(t, saved, "a state older than one saved is never written")
	assert.Equal(t, n-1, saved[len(saved)-1], "the last state saved is the last batch's")
}

func TestCommitterTellsAnUnsavedStateAndRetriesIt(t *testing.T) {
	s := savedStates{fail: true}
	c := NewCommitter("start", s.save)
	assert.False(t, c.Unsaved(), "the state loaded at start-up is saved")
	require.NoError(t, c.Retry(t.Context()), "nothing to retry")
	a, _ := c.Add(c.Generation())
	require.Error(t, c.Done(t.Context(), a, state("after a")))
	assert.True(t, c.Unsaved())
	require.Error(t, c.Retry(t.Context()))
	assert.True(t, c.Unsaved())

	s.mu.Lock()
	s.fail = false
	s.mu.Unlock()
	require.NoError(t, c.Retry(t.Context()))
	assert.False(t, c.Unsaved())
	assert.Equal(t, []string{"after a"}, s.list())
	require.NoError(t, c.Retry(t.Context()))
	assert.Equal(t, []string{"after a"}, s.list(), "a saved state is not written again")
}

// slowSaves is savedStates whose every save takes a while, as a large state's write does.
type slowSaves struct {
	savedStates
	took time.Duration
}

func (s *slowSaves) save(ctx context.Context, st string) error {
	time.Sleep(s.took)
	return s.savedStates.save(ctx, st)
}

func TestCommitterPaceWritesStatesTogether(t *testing.T) {
	cases := []struct {
		name  string
		close bool // Close writes what is left; else the timer does
	}{{"on close", true}, {"by the timer", false}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &slowSaves{took: 5 * time.Millisecond}
			c := NewCommitter("start", s.save)
			// 5 ms a write: the next waits 100 ms, more than the Dones below take.
			c.Pace(20, 10*time.Second, always)
			gen := c.Generation()
			const n = 20
			for i := range n {
				tk, ok := c.Add(gen)
				require.True(t, ok)
				require.NoError(t, c.Done(t.Context(), tk, state(fmt.Sprint(i))))
				assert.False(t, c.Unsaved(), "a write the pace defers is not a failed one")
			}
			assert.Equal(t, []string{"0"}, s.list(), "the first state at once, the others later")
			if tc.close {
				require.NoError(t, c.Close(t.Context()))
			} else {
				require.Eventually(t, func() bool { return len(s.list()) == 2 }, 5*time.Second, 5*time.Millisecond)
			}
			assert.Equal(t, []string{"0", fmt.Sprint(n - 1)}, s.list(), "then the newest, once")

			// After Close (or once the pace allows), a state is written by its Done.
			if !tc.close {
				require.NoError(t, c.Close(t.Context()))
			}
			tk, _ := c.Add(gen)
			require.NoError(t, c.Done(t.Context(), tk, state("last")))
			assert.Equal(t, "last", s.list()[len(s.list())-1])
		})
	}
}

func TestCommitterPaceNeverWaitsLongerThanItsMost(t *testing.T) {
	s := &slowSaves{took: 20 * time.Millisecond}
	c := NewCommitter("start", s.save)
	c.Pace(1000, 50*time.Millisecond, always) // 20 s by the factor, 50 ms at most
	gen := c.Generation()
	for i := range 2 {
		tk, _ := c.Add(gen)
		require.NoError(t, c.Done(t.Context(), tk, state(fmt.Sprint(i))))
	}
	require.Eventually(t, func() bool { return len(s.list()) == 2 }, 5*time.Second, 5*time.Millisecond)
}

func TestCommitterPaceRetriesAFailedWriteAtOnce(t *testing.T) {
	s := &slowSaves{took: 5 * time.Millisecond}
	c := NewCommitter("start", s.save)
	c.Pace(20, 10*time.Second, always)
	gen := c.Generation()
	s.mu.Lock()
	s.fail = true
	s.mu.Unlock()
	tk, _ := c.Add(gen)
	require.Error(t, c.Done(t.Context(), tk, state("a")))
	assert.True(t, c.Unsaved(), "a failed write is unsaved")
	s.mu.Lock()
	s.fail = false
	s.mu.Unlock()
	tk, _ = c.Add(gen)
	require.NoError(t, c.Done(t.Context(), tk, state("b")), "not deferred after a failure")
	assert.Equal(t, []string{"b"}, s.list())
	assert.False(t, c.Unsaved())
}

// always says every state is large.
func always(string) bool { return true }

func TestCommitterPaceLeavesSmallStatesAlone(t *testing.T) {
	s := &slowSaves{took: 5 * time.Millisecond}
	c := NewCommitter("start", s.save)
	c.Pace(20, 10*time.Second, func(st string) bool { return len(st) > 5 })
	gen := c.Generation()
	for i := range 5 {
		tk, _ := c.Add(gen)
		require.NoError(t, c.Done(t.Context(), tk, state(fmt.Sprint(i))))
	}
	assert.Equal(t, []string{"0", "1", "2", "3", "4"}, s.list(), "every state written by its Done")
}
