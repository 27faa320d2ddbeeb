package mimecastfake

import (
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNextPageWalksFilteredRecordsOnce(t *testing.T) {
	for _, oldestFirst := range []bool{false, true} {
		walk := recordWalk{lo: 10, hi: 110, oldestFirst: oldestFirst, match: func(i int) bool { return i%3 == 0 }}
		now := time.Unix(1700000000, 0)
		cur := newCursor("fp", now)
		var got []int
		for pages := 0; ; pages++ {
			require.Less(t, pages, 100)
			p := nextPage(cur, walk, 7, false)
			assert.Equal(t, 33, p.total)
			got = append(got, p.indices...)
			if p.next == "" {
				break
			}
			var err error
			cur, err = openCursor(p.next, "fp", now.Add(time.Hour))
			require.NoError(t, err)
			assert.Equal(t, now.UnixMilli(), cur.AsOf, "the crawl keeps its snapshot time")
		}
		require.Len(t, got, 33)
		for k, i := range got {
			assert.Zero(t, i%3)
			if k > 0 {
				assert.Equal(t, oldestFirst, i > got[k-1], "walk order")
			}
		}
	}
}

func TestNextPageWithDuplicateRepeatsTheLastServedRecord(t *testing.T) {
	walk := recordWalk{lo: 0, hi: 20}
	p1 := nextPage(newCursor("fp", time.Now()), walk, 5, true)
	assert.Equal(t, []int{19, 18, 17, 16, 15}, p1.indices, "nothing to repeat on the first page")
	cur, err := openCursor(p1.next, "fp", time.Now())
	require.NoError(t, err)
	p2 := nextPage(cur, walk, 5, true)
	assert.Equal(t, []int{15, 14, 13, 12, 11, 10}, p2.indices)
}

func TestLastPageHasNoNextToken(t *testing.T) {
	walk := recordWalk{lo: 0, hi: 10}
	p := nextPage(newCursor("fp", time.Now()), walk, 10, false)
	assert.Len(t, p.indices, 10)
	assert.Empty(t, p.next, "an exactly full last page ends the crawl")
	p = nextPage(newCursor("fp", time.Now()), recordWalk{}, 10, false)
	assert.Empty(t, p.indices)
	assert.Empty(t, p.next)
}

func TestOpenCursorRejectsForeignOrDamagedTokens(t *testing.T) {
	p := nextPage(newCursor("fp", time.Now()), recordWalk{lo: 0, hi: 50}, 10, false)
	_, err := openCursor(p.next, "other", time.Now())
	assert.ErrorIs(t, err, errBadPageToken)
	_, err = openCursor(p.next[:len(p.next)-3], "fp", time.Now())
	assert.ErrorIs(t, err, errBadPageToken)
	_, err = openCursor("%%%", "fp", time.Now())
	assert.ErrorIs(t, err, errBadPageToken)
}

func TestParseAPITimeAcceptsTheLayoutsClientsSend(t *testing.T) {
	want := time.Date(2011, 12, 3, 10, 15, 30, 0, time.UTC)
	for _, s := range []string{
		"2011-12-03T10:15:30+0000", "2011-12-03T11:15:30+0100", "2011-12-03T10:15:30Z", "2011-12-03T10:15:30+00:00",
		"2011-12-03T10:15:30.000Z", "2011-12-03T10:15:30.000+0000", "2011-12-03T10:15:30",
	} {
		got, err := parseAPITime(s)
		require.NoError(t, err, s)
		assert.True(t, want.Equal(got), s)
	}
	got, err := parseAPITime("2011-12-03")
	require.NoError(t, err)
	assert.Equal(t, time.Date(2011, 12, 3, 0, 0, 0, 0, time.UTC), got)
	for _, s := range []string{"", "yesterday", "03/12/2011", "2011-12-03 10:15:30"} {
		_, err := parseAPITime(s)
		assert.Error(t, err, s)
	}
}

func TestParsePageSize(t *testing.T) {
	for in, want := range map[json.Number]int{"": 25, "0": 25, "-3": 25, "7": 7, " 8 ": 8, "500": 500, "501": 500} {
		got, err := parsePageSize(in, 25, 500)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := parsePageSize("1.5", 25, 500)
	assert.Error(t, err)
}

func TestFeedTimesNeverDecreaseAndStayInTheirWindow(t *testing.T) {
	anchor := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := Options{Seed: 3, Anchor: anchor, Sizes: Sizes{EventsPerFeed: 5000, LiveEventsPerHour: 120, Span: 24 * time.Hour}}.withDefaults()
	f := newTenant(opts).alertFeed(feedURLClicks)
	prev := time.Time{}
	for i := range 5000 + 240 {
		at := f.at(i)
		require.False(t, at.Before(prev), "record %d goes back in time", i)
		prev = at
		if i < 5000 {
			require.False(t, at.Before(anchor.Add(-24*time.Hour)))
			require.False(t, at.After(anchor))
		} else {
			require.True(t, at.After(anchor))
		}
	}
	for _, d := range []time.Duration{0, 30 * time.Second, time.Minute, 90 * time.Minute} {
		assert.Equal(t, 5000+int(d/(30*time.Second)), f.available(anchor.Add(d)), d)
	}
}

func TestBetweenMatchesALinearScan(t *testing.T) {
	anchor := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := Options{Seed: 9, Anchor: anchor, Sizes: Sizes{EventsPerFeed: 400, LiveEventsPerHour: 60, Span: 10 * time.Hour}}.withDefaults()
	f := newTenant(opts).alertFeed(feedThreatEvents)
	horizon := anchor.Add(2 * time.Hour)
	n := f.available(horizon)
	for k := range 50 {
		from := anchor.Add(-11*time.Hour + time.Duration(k)*17*time.Minute)
		to := from.Add(time.Duration(k%7) * 53 * time.Minute)
		lo, hi := f.between(from, to, horizon)
		wantLo, wantHi := -1, -1
		for i := range n {
			if at := f.at(i); !at.Before(from) && !at.After(to) {
				if wantLo < 0 {
					wantLo = i
				}
				wantHi = i + 1
			}
		}
		if wantLo < 0 {
			assert.Equal(t, lo, hi, "empty range for %v..%v", from, to)
			continue
		}
		assert.Equal(t, [2]int{wantLo, wantHi}, [2]int{lo, hi}, "%v..%v", from, to)
	}
}

func TestMillionEventTenantServesPagesWithoutGeneratingThem(t *testing.T) {
	h := newFakeHarness(t, Options{Sizes: Sizes{EventsPerFeed: 1_000_000}})
	h.bearer()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	_, body := h.post("/api/ttp/url/get-logs", apiBody(100, "", since2020))
	pag := body["meta"].(map[string]any)["pagination"].(map[string]any)
	assert.Equal(t, 1_000_000, asInt(t, pag["totalCount"]))
	_, body = h.post("/api/ttp/url/get-logs", apiBody(100, pag["next"].(string), since2020))
	assert.Len(t, namedRecords("clickLogs")(t, body["data"].([]any)), 100)

	// A filter needs one scan for totalCount, still without materialising records.
	_, body = h.post("/api/ttp/url/get-logs", apiBody(100, "", map[string]any{"from": "2020-01-01T00:00:00Z", "scanResult": "malicious"}))
	total := asInt(t, body["meta"].(map[string]any)["pagination"].(map[string]any)["totalCount"])
	assert.InDelta(t, 250_000, total, 5_000)
	_, body = h.get("/threats/v1/events", since(map[string][]string{"pageSize": {"100"}, "status": {"held"}}))
	assert.Len(t, body["data"], 100)

	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "allocations stay O(page), not O(tenant)")
}
