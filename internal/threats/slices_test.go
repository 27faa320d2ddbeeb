package threats

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingPages is a windowPageFunc whose page for a token is the token itself as one record,
// counting the calls per slice end and token, and blocking on release when it is set.
type countingPages struct {
	mu       sync.Mutex
	calls    map[string]int
	inFlight int
	most     int
	release  chan struct{}
	last     string // the token of a slice's last page; empty: every page has a next one
}

func (c *countingPages) page(ctx context.Context, _, to time.Time, token string) (windowPage, error) {
	c.mu.Lock()
	c.calls[pageKey(to, token)]++
	c.inFlight++
	c.most = max(c.most, c.inFlight)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	}()
	if c.release != nil {
		select {
		case <-c.release:
		case <-ctx.Done():
			return windowPage{}, ctx.Err()
		}
	}
	next := token + "+"
	if c.last != "" && token == c.last {
		next = ""
	}
	return decodedPage([]threatRecord{{id: token}}, next), nil
}

func (c *countingPages) count(to time.Time, token string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[pageKey(to, token)]
}

func pageKey(to time.Time, token string) string { return to.Format(time.RFC3339) + "/" + token }

func TestOpenSlicesCutsTheWindowIntoSlices(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return v
	}
	cases := []struct {
		name     string
		from, to string
		n        int
		span     time.Duration
		want     [][2]string
	}{
		{
			name: "at most n open", from: "2026-01-01T00:00:00Z", to: "2026-01-01T05:00:00Z", n: 2, span: time.Hour,
			want: [][2]string{{"2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"}, {"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"}},
		},
		{
			name: "cut at whole seconds", from: "2026-01-01T00:00:00.700Z", to: "2026-01-01T02:30:00Z", n: 8, span: time.Hour,
			want: [][2]string{{"2026-01-01T00:00:00.7Z", "2026-01-01T01:00:00Z"}, {"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"}, {"2026-01-01T02:00:00Z", "2026-01-01T02:30:00Z"}},
		},
		{
			name: "a short last slice joins the one before", from: "2026-01-01T00:00:00Z", to: "2026-01-01T02:20:00Z", n: 8, span: time.Hour,
			want: [][2]string{{"2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"}, {"2026-01-01T01:00:00Z", "2026-01-01T02:20:00Z"}},
		},
		{
			name: "span 0 is one slice", from: "2026-01-01T00:00:00Z", to: "2026-01-03T00:00:00Z", n: 8, span: 0,
			want: [][2]string{{"2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"}},
		},
		{
			name: "a window within the span is one slice", from: "2026-01-01T00:00:00Z", to: "2026-01-01T00:06:00Z", n: 8, span: time.Hour,
			want: [][2]string{{"2026-01-01T00:00:00Z", "2026-01-01T00:06:00Z"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := feedState{WindowFrom: at(tc.from), WindowTo: at(tc.to), SliceNext: at(tc.from)}
			openSlices(&st, tc.n, tc.span)
			var got [][2]string
			for _, s := range st.Slices {
				got = append(got, [2]string{s.From.Format(time.RFC3339Nano), s.To.Format(time.RFC3339Nano)})
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, st.Slices[len(st.Slices)-1].To, st.SliceNext, "the next slice opens where the last one ends")
		})
	}
}

func TestSlicePoolReadsTheSlicesAtOnce(t *testing.T) {
	pages := &countingPages{calls: map[string]int{}, release: make(chan struct{}), last: "a"}
	p := newSlicePool(pages.page)
	defer p.close()
	open := threeSlices()
	for i := range open {
		open[i].Token = "a" // each slice is this one page
	}
	p.sync(t.Context(), open, 3)
	require.Eventually(t, func() bool {
		pages.mu.Lock()
		defer pages.mu.Unlock()
		return pages.inFlight == 3
	}, 5*time.Second, time.Millisecond, "one call per slice in flight before any answered")
	close(pages.release)
	got := map[time.Time]string{}
	for range 3 {
		r, err := p.next(t.Context())
		require.NoError(t, err)
		require.NoError(t, r.err)
		got[r.s.To] = r.page.records()[0].id
	}
	assert.Len(t, got, 3, "a page of each slice")
}

func TestSlicePoolStartsNoMoreWalkersThanTheLimit(t *testing.T) {
	pages := &countingPages{calls: map[string]int{}, last: "t"}
	p := newSlicePool(pages.page)
	defer p.close()
	open := threeSlices()
	for i := range open {
		open[i].Token = "t"
	}
	p.sync(t.Context(), open, 1)
	r, err := p.next(t.Context())
	require.NoError(t, err)
	assert.Equal(t, open[0].To, r.s.To, "the oldest slice first")
	p.close()
	assert.Zero(t, pages.count(open[1].To, "t")+pages.count(open[2].To, "t"), "the other slices wait")
}

func TestSlicePoolDropsAWalkerTheReadStateNoLongerAsksFor(t *testing.T) {
	pages := &countingPages{calls: map[string]int{}}
	p := newSlicePool(pages.page)
	defer p.close()
	open := threeSlices()[:1]
	open[0].Token = "t1"
	p.sync(t.Context(), open, 1)
	r, err := p.next(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "t1", r.page.records()[0].id)
	// A nack reset the read state to an earlier page of the slice: the walker, already at
	// t1+, is replaced by one at t0.
	open[0].Token = "t0"
	p.sync(t.Context(), open, 1)
	r, err = p.next(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "t0", r.token)
	assert.Equal(t, "t0", r.page.records()[0].id, "the page asked for, not the one read ahead")
	p.close()
	assert.Equal(t, 1, pages.count(open[0].To, "t0"), "the page asked for is read once")
	assert.LessOrEqual(t, pages.count(open[0].To, "t1+"), 1, "the dropped walker cost at most the page it read ahead")
}

func TestSlicePoolCloseCancelsPagesInFlight(t *testing.T) {
	pages := &countingPages{calls: map[string]int{}, release: make(chan struct{})}
	p := newSlicePool(pages.page)
	p.sync(t.Context(), threeSlices(), 3)
	closed := make(chan struct{})
	go func() { p.close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("close did not cancel the pages being read")
	}
}

func TestSlicePoolWaitIsCancelledWithTheContext(t *testing.T) {
	pages := &countingPages{calls: map[string]int{}, release: make(chan struct{})}
	p := newSlicePool(pages.page)
	defer p.close()
	p.sync(t.Context(), threeSlices(), 3)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := p.next(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

// threeSlices are three one-minute slices, at their first pages.
func threeSlices() []sliceState {
	base := time.Unix(0, 0).UTC()
	var out []sliceState
	for i := range 3 {
		out = append(out, sliceState{From: base.Add(time.Duration(i) * time.Minute), To: base.Add(time.Duration(i+1) * time.Minute)})
	}
	return out
}

// A checkpoint reads back as it was written, whatever its ids hold.
func TestCheckpointEncodingReadsBackWhatWasWritten(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	cases := []struct {
		name string
		st   feedState
	}{
		{"no seen ids", feedState{Version: checkpointVersion, Cursor: base}},
		{"slices and plain ids", feedState{
			Version: checkpointVersion, Cursor: base, WindowFrom: base, WindowTo: base.Add(3 * time.Hour), SliceNext: base.Add(2 * time.Hour),
			Slices: []sliceState{{From: base, To: base.Add(time.Hour), Token: "tok=="}, {From: base.Add(time.Hour), To: base.Add(2 * time.Hour)}},
			Seen:   map[string]int64{"abc": 1, "sha256:00ff": base.UnixMilli(), "": -5},
		}},
		{"ids JSON must escape", feedState{
			Version: checkpointVersion, Cursor: base,
			Seen: map[string]int64{`quo"te`: 1, `back\slash`: 2, "new\nline": 3, "ünïcode": 4, "<html>&": 5, "\x00\x7f": 6, "\xff invalid": 7},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := encodeState(tc.st)
			require.NoError(t, err)
			var got feedState
			require.NoError(t, json.Unmarshal(raw, &got), string(raw))
			want, err := json.Marshal(tc.st)
			require.NoError(t, err)
			var viaStd feedState
			require.NoError(t, json.Unmarshal(want, &viaStd))
			assert.Equal(t, viaStd, got, "what json.Marshal would have written reads back the same")
		})
	}
}

// How a window whose first page said how many records it holds is cut up.
func TestSliceSpanFollowsTheReportedCount(t *testing.T) {
	w := &windowSource{slice: time.Hour, concurrency: 8}
	day := 24 * time.Hour
	cases := []struct {
		name           string
		total, perPage int
		sliced         bool
		span           time.Duration
	}{
		{"no count: backfill_slice", 0, 500, true, time.Hour},
		{"a few pages are walked", 5000, 500, false, 0},
		{"200 pages: 20 slices of 10 pages", 100_000, 500, true, day/20 + time.Second},
		{"30 pages: as many slices as are read at once", 15_000, 500, true, day/8 + time.Second},
		{"a count no window holds: slices of a minute at least", 1 << 30, 500, true, time.Minute + 27*time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.sliced, w.worthSlicing(tc.total, tc.perPage, 300*time.Millisecond))
			if tc.sliced {
				assert.Equal(t, tc.span, w.sliceSpan(day, tc.total, tc.perPage))
			}
		})
	}
}

// A backlog whose quota the client knows to allow fewer calls than slices would make at once
// is walked page by page: slices would only spend calls.
func TestABacklogTheQuotaBoundsIsNotSliced(t *testing.T) {
	cases := []struct {
		name   string
		rate   float64
		known  bool
		took   time.Duration
		sliced bool
	}{
		{"no quota known", 0, false, 300 * time.Millisecond, true},
		{"60 calls a minute at 300 ms a call", 1, true, 300 * time.Millisecond, false},
		{"60 calls in 5 s on loopback", 12, true, 2 * time.Millisecond, false},
		{"50 calls a second at 300 ms a call", 50, true, 300 * time.Millisecond, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &windowSource{slice: time.Hour, concurrency: 8, log: service.MockResources().Logger(),
				quotaRate: func() (float64, bool) { return tc.rate, tc.known }}
			assert.Equal(t, tc.sliced, w.worthSlicing(100_000, 500, tc.took))
		})
	}
}

// A checkpoint of an earlier build names one window and its next page: it is read on from that
// page, as the window's one slice.
func TestAnEarlierCheckpointsWindowIsReadOnFromItsToken(t *testing.T) {
	pages := &countingPages{calls: map[string]int{}, last: "t7"}
	w := &windowSource{sourceName: "url_protect", slice: time.Hour, concurrency: 8, now: time.Now,
		log: service.MockResources().Logger(), pool: newSlicePool(pages.page), failing: map[sliceKey]bool{}}
	defer w.close()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := feedState{Version: checkpointVersion, Cursor: from, WindowFrom: from, WindowTo: from.Add(48 * time.Hour), Token: "t7"}
	c, err := w.readPage(t.Context(), st)
	require.NoError(t, err)
	require.Len(t, c.records, 1)
	assert.Equal(t, "t7", c.records[0].id, "the page the token names, not the window's first")
	assert.Zero(t, pages.count(st.WindowTo, ""), "the window is not read again from its start")
	assert.True(t, c.caughtUp || c.state.WindowTo.IsZero(), "its last page ends the window")
	assert.Equal(t, st.WindowTo, c.state.Cursor)
}
