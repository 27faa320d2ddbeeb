package threats

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingPages is a windowPageFunc whose page for a token is the token itself as one record,
// counting the calls per token and blocking on release when it is set.
type countingPages struct {
	mu      sync.Mutex
	calls   map[string]int
	release chan struct{}
}

func (c *countingPages) page(ctx context.Context, _, to time.Time, token string) (windowPage, error) {
	c.mu.Lock()
	c.calls[pageKey(to, token)]++
	c.mu.Unlock()
	if c.release != nil {
		select {
		case <-c.release:
		case <-ctx.Done():
			return windowPage{}, ctx.Err()
		}
	}
	return decodedPage([]threatRecord{{id: token}}, token+"+"), nil
}

func (c *countingPages) count(to time.Time, token string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[pageKey(to, token)]
}

func pageKey(to time.Time, token string) string { return to.Format(time.RFC3339) + "/" + token }

func TestReadAheadServesTheNextPageFromOneCall(t *testing.T) {
	from, to := time.Unix(0, 0), time.Unix(60, 0)
	pages := &countingPages{calls: map[string]int{}}
	a := pageReadAhead{page: pages.page}
	defer a.close()

	a.start(t.Context(), from, to, "t1")
	page, err := a.read(t.Context(), from, to, "t1")
	require.NoError(t, err)
	assert.Equal(t, "t1", page.records()[0].id)
	assert.Equal(t, "t1+", page.next)
	assert.Equal(t, 1, pages.count(to, "t1"), "the page read ahead is not asked for again")
}

func TestReadAheadOfAnotherPageIsDroppedAndTheAskedPageRead(t *testing.T) {
	from, to := time.Unix(0, 0), time.Unix(60, 0)
	cases := []struct {
		name     string
		from, to time.Time
		token    string
	}{
		{"other token (nack reset to an earlier page)", from, to, "t0"},
		{"other window (caught up, new poll)", from, to.Add(time.Minute), "t1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pages := &countingPages{calls: map[string]int{}}
			a := pageReadAhead{page: pages.page}
			defer a.close()
			a.start(t.Context(), from, to, "t1")
			page, err := a.read(t.Context(), tc.from, tc.to, tc.token)
			require.NoError(t, err)
			assert.Equal(t, tc.token, page.records()[0].id, "the page asked for, not the one read ahead")
			a.close()
			assert.Equal(t, 1, pages.count(tc.to, tc.token), "the page asked for is read once")
			assert.LessOrEqual(t, pages.count(to, "t1"), 1, "the dropped read-ahead cost at most its one call")
		})
	}
}

func TestReadAheadCloseCancelsAPageInFlight(t *testing.T) {
	pages := &countingPages{calls: map[string]int{}, release: make(chan struct{})}
	a := pageReadAhead{page: pages.page}
	a.start(t.Context(), time.Unix(0, 0), time.Unix(60, 0), "t1")
	closed := make(chan struct{})
	go func() { a.close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("close did not cancel the page being read ahead")
	}
}

func TestReadAheadWaitIsCancelledWithTheContext(t *testing.T) {
	from, to := time.Unix(0, 0), time.Unix(60, 0)
	pages := &countingPages{calls: map[string]int{}, release: make(chan struct{})}
	a := pageReadAhead{page: pages.page}
	defer a.close()
	a.start(t.Context(), from, to, "t1")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := a.read(ctx, from, to, "t1")
	require.ErrorIs(t, err, context.Canceled)
}
