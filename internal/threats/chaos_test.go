package threats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// The chaos tests run every window feed against a tenant that misbehaves in seeded, combined
// ways, and hold the input to its promise against the tenant's own records: each emitted once,
// none lost.

// chaosEvents is the backlog of every feed of the chaos tenant, all inside the lookback: at
// page_size 7 and a backfill_slice of 1h the backlog is read in three slices of several pages,
// at once.
const chaosEvents = 100

// windowFeedSources are the window feeds and the sources each reads.
var windowFeedSources = map[string][]string{
	feedThreatEvents:  {"email"},
	feedURLProtect:    {"url_protect"},
	feedAttachment:    {"attachment_protect"},
	feedImpersonation: {"impersonation_protect"},
	feedHeld:          {"hold_queue", "release_log"},
}

// chaosSIEMTypes are the SIEM event types the chaos runs read: each has chaosEvents events in
// files of chaosSIEMFileEvents, so that at page_size 7 its listing has two pages.
var chaosSIEMTypes = []string{"av", "url protect"}

const chaosSIEMFileEvents = 9

// chaosFeeds are the feeds of the chaos tests: every window feed, and SIEM.
func chaosFeeds() []string {
	return append(slices.Sorted(maps.Keys(windowFeedSources)), feedSIEM)
}

// chaosRecords is how many records the chaos tenant holds for feed.
func chaosRecords(feed string) int {
	if feed == feedSIEM {
		return chaosEvents * len(chaosSIEMTypes)
	}
	return chaosEvents * len(windowFeedSources[feed])
}

// chaosFeedYAML selects feed in the input's config.
func chaosFeedYAML(feed string) string {
	conf := "feeds: [" + feed + "]\n"
	if feed == feedSIEM {
		conf += "siem_event_types: [" + strings.Join(chaosSIEMTypes, ", ") + "]\n"
	}
	return conf
}

func chaosTenant(anchor time.Time, f mimecastfake.Faults) mimecastfake.Options {
	return mimecastfake.Options{
		Seed: 11, Anchor: anchor, Faults: f,
		Sizes: mimecastfake.Sizes{EventsPerFeed: chaosEvents, Span: 3 * time.Hour, SIEMEventsPerFile: chaosSIEMFileEvents},
	}
}

// chaosCase is one combination of list faults and pipeline behaviour.
type chaosCase struct {
	order  string
	faults mimecastfake.Faults
	nacks  bool   // the output rejects some batches (auto_replay_nacks off)
	slice  string // backfill_slice; empty for the default
}

func (c chaosCase) String() string {
	var parts []string
	if c.order != "" {
		parts = append(parts, "order="+c.order)
	}
	f := c.faults
	for _, k := range []struct {
		name string
		n    int
	}{
		{"dup", f.DuplicateAcrossPages}, {"refuse", f.RefusePageTokens}, {"cycle", f.PageCycles},
		{"401", f.ExpireTokens}, {"401transient", f.UnverifiedTokens}, {"429", f.RateLimitBurst},
		{"html", f.HTMLErrorPages}, {"fail200", f.FailWith200}, {"stall", f.SIEMStalls},
		{"dupurl", f.DuplicateURLs}, {"expiredurl", f.ExpiredURLs}, {"cutgzip", f.TruncatedGzip},
	} {
		if k.n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k.name, k.n))
		}
	}
	if c.nacks {
		parts = append(parts, "nacks")
	}
	if c.slice != "" {
		parts = append(parts, "slice="+c.slice)
	}
	if len(parts) == 0 {
		return "clean"
	}
	return strings.Join(parts, ",")
}

// randomChaos draws a combination of faults from seed.
func randomChaos(seed uint64) chaosCase {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	orders := []string{"", mimecastfake.ListOrderNewest, mimecastfake.ListOrderOldest, mimecastfake.ListOrderShuffled}
	c := chaosCase{order: orders[rng.IntN(len(orders))]}
	some := func(max int) int {
		if rng.IntN(2) == 0 {
			return 0
		}
		return 1 + rng.IntN(max)
	}
	c.faults = mimecastfake.Faults{
		ListOrder:            c.order,
		DuplicateAcrossPages: some(3),
		RefusePageTokens:     some(2),
		PageCycles:           some(2),
		ExpireTokens:         some(1),
		UnverifiedTokens:     some(2),
		RateLimitBurst:       some(2),
		RateLimitResetMs:     50,
		HTMLErrorPages:       some(2),
		HTMLErrorStatus:      []int{502, 503}[rng.IntN(2)],
		FailWith200:          some(2),
		// SIEM only.
		SIEMStalls:    some(2),
		DuplicateURLs: some(2),
		ExpiredURLs:   some(1),
		TruncatedGzip: some(1),
	}
	c.nacks = rng.IntN(3) == 0
	if rng.IntN(3) == 0 {
		c.slice = "0s"
	}
	return c
}

// drainFeed runs feed until it emitted want messages and then was quiet, and returns the
// "source/id" of every message delivered. With nacks the output rejects a few whole batches
// (nothing of them counts as delivered), and the number of rejections is returned.
func drainFeed(t *testing.T, url, feed string, want int, cc chaosCase, seed uint64) ([]string, int) {
	t.Helper()
	nacks := cc.nacks
	extra := chaosFeedYAML(feed) + "max_retries: 2\n"
	if cc.slice != "" {
		extra += "backfill_slice: " + cc.slice + "\n"
	} else {
		extra += "backfill_slice: 1h\n"
	}
	if nacks {
		extra += "auto_replay_nacks: false\n"
	}
	var (
		mu       sync.Mutex
		keys     []string
		rejected int
	)
	rng := rand.New(rand.NewPCG(seed, 7))
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: none"))
	require.NoError(t, b.AddInputYAML(threatsYAML(url, extra)))
	require.NoError(t, b.AddBatchConsumerFunc(func(_ context.Context, batch service.MessageBatch) error {
		mu.Lock()
		defer mu.Unlock()
		if nacks && rejected < 3 && rng.IntN(4) == 0 {
			rejected++
			return errors.New("rejected by test")
		}
		for _, m := range batch {
			assert.NoError(t, m.GetError())
			keys = append(keys, meta(m, metaSource)+"/"+meta(m, metaEventID))
		}
		return nil
	}))
	_, stop := streamtest.RunBuilt(t, b)
	// Distinct keys: with repeats allowed (after a rejection), a count of all keys could reach
	// want while records are still to come.
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return distinct(keys)
	}
	deadline := time.Now().Add(30 * time.Second)
	for count() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(400 * time.Millisecond) // repeats would come now
	stop()
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(keys), rejected
}

// truthOf is what a fault-free tenant holds for feed: every record, once.
func truthOf(t *testing.T, anchor time.Time, feed string) []string {
	t.Helper()
	_, url := streamtest.FakeTenant(t, chaosTenant(anchor, mimecastfake.Faults{}))
	want := chaosRecords(feed)
	keys, _ := drainFeed(t, url, feed, want, chaosCase{}, 0)
	require.Len(t, keys, want, "the clean tenant serves every record once")
	slices.Sort(keys)
	require.Len(t, slices.Compact(slices.Clone(keys)), want, "record ids are distinct")
	return keys
}

// repeatsPerRejection bounds what one rejected batch may have read again: the pages in flight
// behind it (max_pages_in_flight 4 of 7 records) for a window feed, and for SIEM the listing
// pages (7 files of chaosSIEMFileEvents) since the last one committed.
func repeatsPerRejection(feed string) int {
	if feed == feedSIEM {
		return 2 * 7 * chaosSIEMFileEvents
	}
	return 4 * 7
}

// assertExactlyOnce compares what a run delivered with the tenant's records. After a rejected
// batch the pages in flight behind it are read again (at-least-once), so each rejection may
// repeat up to max_pages_in_flight pages; nothing may be lost either way.
func assertExactlyOnce(t *testing.T, feed string, truth, got []string, rejected int) {
	t.Helper()
	d := streamtest.CompareDelivery(truth, got)
	assert.Empty(t, d.Lost, "records lost")
	if rejected == 0 {
		assert.Empty(t, d.Twice, "records delivered more than once")
	} else {
		assert.LessOrEqual(t, len(d.Twice), rejected*repeatsPerRejection(feed), "repeats after %d rejected batches", rejected)
	}
	assert.Empty(t, d.Unknown, "records the tenant does not hold")
}

// pendingFaults is what is left of the counting faults of f.
func pendingFaults(f mimecastfake.Faults) int {
	return f.DuplicateAcrossPages + f.RefusePageTokens + f.PageCycles + f.SIEMStalls + f.UnverifiedTokens +
		f.HTMLErrorPages + f.DuplicateURLs + f.ExpiredURLs + f.TruncatedGzip + f.ExpireTokens + f.RateLimitBurst
}

// Each fault alone, on every feed: the cases that found the window and listing bugs.
func TestChaosEachFaultOnEveryFeedLosesNothingAndRepeatsNothing(t *testing.T) {
	anchor := time.Now().UTC().Truncate(time.Minute)
	common := []chaosCase{
		{faults: mimecastfake.Faults{PageCycles: 1}},
		{faults: mimecastfake.Faults{UnverifiedTokens: 3}},
		{faults: mimecastfake.Faults{HTMLErrorPages: 2, HTMLErrorStatus: 503}},
		{faults: mimecastfake.Faults{ExpireTokens: 1, RateLimitBurst: 2, RateLimitResetMs: 50}},
	}
	perFeed := map[string][]chaosCase{
		feedSIEM: {
			{faults: mimecastfake.Faults{SIEMStalls: 1}},
			{faults: mimecastfake.Faults{DuplicateURLs: 2}},
			{faults: mimecastfake.Faults{ExpiredURLs: 1}},
			{faults: mimecastfake.Faults{TruncatedGzip: 1}},
			{nacks: true},
		},
	}
	windowCases := []chaosCase{
		{order: mimecastfake.ListOrderNewest, faults: mimecastfake.Faults{ListOrder: mimecastfake.ListOrderNewest, DuplicateAcrossPages: 3}},
		{order: mimecastfake.ListOrderOldest, faults: mimecastfake.Faults{ListOrder: mimecastfake.ListOrderOldest, DuplicateAcrossPages: 3}},
		{order: mimecastfake.ListOrderShuffled, faults: mimecastfake.Faults{ListOrder: mimecastfake.ListOrderShuffled, DuplicateAcrossPages: 3}},
		{order: mimecastfake.ListOrderNewest, faults: mimecastfake.Faults{ListOrder: mimecastfake.ListOrderNewest, RefusePageTokens: 1}},
		{order: mimecastfake.ListOrderOldest, faults: mimecastfake.Faults{ListOrder: mimecastfake.ListOrderOldest, RefusePageTokens: 1}},
		{order: mimecastfake.ListOrderNewest, faults: mimecastfake.Faults{ListOrder: mimecastfake.ListOrderNewest}, nacks: true},
	}
	for feed := range windowFeedSources {
		perFeed[feed] = windowCases
	}
	for _, feed := range chaosFeeds() {
		t.Run(feed, func(t *testing.T) {
			t.Parallel()
			truth := truthOf(t, anchor, feed)
			for i, cc := range append(slices.Clone(common), perFeed[feed]...) {
				t.Run(cc.String(), func(t *testing.T) {
					fake, url := streamtest.FakeTenant(t, chaosTenant(anchor, cc.faults))
					got, rejected := drainFeed(t, url, feed, len(truth), cc, uint64(i))
					assertExactlyOnce(t, feed, truth, got, rejected)
					assert.Zero(t, pendingFaults(fake.Faults()), "every fault fired")
				})
			}
		})
	}
}

// Seeded combinations of every fault, on every feed.
func TestChaosSeededFaultCombinationsDeliverEveryRecordExactlyOnce(t *testing.T) {
	const seeds = 6
	anchor := time.Now().UTC().Truncate(time.Minute)
	for _, feed := range chaosFeeds() {
		t.Run(feed, func(t *testing.T) {
			t.Parallel()
			truth := truthOf(t, anchor, feed)
			for seed := range uint64(seeds) {
				cc := randomChaos(seed*31 + uint64(len(feed)))
				t.Run(fmt.Sprintf("seed%d/%s", seed, cc), func(t *testing.T) {
					_, url := streamtest.FakeTenant(t, chaosTenant(anchor, cc.faults))
					got, rejected := drainFeed(t, url, feed, len(truth), cc, seed)
					assertExactlyOnce(t, feed, truth, got, rejected)
				})
			}
		})
	}
}

// A server that keeps misbehaving on a page must not be asked in a loop: the source backs off,
// says so once, and its checkpoint stays before the page.
func TestFeedsBackOffFromAPageThatKeepsFailing(t *testing.T) {
	const urlFeed, siemFeed = "feeds: [url_protect]\n", "feeds: [siem]\nsiem_event_types: [av]\n"
	cases := []struct {
		name     string
		feed     string
		endpoint string
		faults   mimecastfake.Faults
		level    string
		text     string
		counter  string
	}{
		{
			name: "pagination cycle", feed: urlFeed, endpoint: "/api/ttp/url/get-logs",
			faults: mimecastfake.Faults{PageCycles: 1 << 20},
			level:  "ERROR", text: "url_protect: pagination cycle: the next page token",
			counter: "mimecast_threats_pagination_cycles{feed=url_protect}",
		},
		{
			name: "page token refused every time", feed: urlFeed, endpoint: "/api/ttp/url/get-logs",
			faults: mimecastfake.Faults{RefusePageTokens: 1 << 20},
			level:  "WARN", text: "url_protect: reading the next page failed",
			counter: "mimecast_threats_fetch_errors{feed=url_protect}",
		},
		{
			name: "siem listing cycle", feed: siemFeed, endpoint: "/siem/v1/batch/events/cg",
			faults: mimecastfake.Faults{PageCycles: 1 << 20},
			level:  "ERROR", text: "siem_av: the siem listing makes no progress at page token",
			counter: "mimecast_threats_pagination_cycles{feed=siem}",
		},
		{
			name: "siem listing stuck on one page", feed: siemFeed, endpoint: "/siem/v1/batch/events/cg",
			faults: mimecastfake.Faults{SIEMStalls: 1 << 20},
			level:  "ERROR", text: "siem_av: the siem listing makes no progress at page token",
			counter: "mimecast_threats_pagination_cycles{feed=siem}",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, url := streamtest.FakeTenant(t, chaosTenant(time.Now().UTC().Truncate(time.Minute), tc.faults))
			c := streamtest.NewCollector()
			in := threatsYAML(url, tc.feed+"backfill_slice: 1h\nmax_retries: 0\n")
			_, stop, obs := streamtest.StartObserved(t, streamtest.StreamSpec{Input: in}, c)
			time.Sleep(4 * time.Second)
			stop()
			calls := fake.Stats().Calls[tc.endpoint]
			// Without a back-off this is hundreds of calls; with it a window's pages are read
			// again after 1 s, 2 s, 4 s...
			assert.Less(t, calls, 60, "calls in 4 s")
			var said []string
			for _, l := range obs.LogLines(slog.LevelInfo) {
				if strings.Contains(l.Msg, tc.text) {
					assert.Equal(t, tc.level, l.Level)
					said = append(said, l.Msg)
				}
			}
			assert.Len(t, said, 1, "said once for the streak")
			assert.Positive(t, obs.Counter(tc.counter))
			msgs := c.Snapshot()
			assert.NotEmpty(t, msgs, "the pages before the bad one are delivered")
			assert.Equal(t, len(msgs), distinct(eventIDs(msgs)), "a page read again is not delivered again")
		})
	}
}

// A lookback longer than backfill_slice is read in slices, backfill_concurrency of them at
// once, and each record still comes out once; backfill_slice 0s reads it as one window.
func TestWindowFeedsReadALongBacklogInSlicesAtOnce(t *testing.T) {
	anchor := time.Now().UTC().Truncate(time.Minute)
	cases := []struct {
		name     string
		conf     string
		parallel bool // several calls were in flight at once, not at most the one of a walker and the one it replaced
		calls    int  // at most this many list calls
	}{
		// The first page of the lookback says 100 records: 15 pages, cut into as many slices as
		// are read at once (at least 2), each a call more than its pages, and a poll or two.
		{"slices read at once", "backfill_slice: 1h\nbackfill_concurrency: 6\n", true, 1 + 6 + chaosEvents/7 + 1 + 3},
		{"one slice at a time", "backfill_slice: 1h\nbackfill_concurrency: 1\n", false, 1 + 2 + chaosEvents/7 + 1 + 3},
		{"one window", "backfill_slice: 0s\n", false, chaosEvents/7 + 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := chaosTenant(anchor, mimecastfake.Faults{ListOrder: mimecastfake.ListOrderNewest})
			opts.Latency.API = 20 * time.Millisecond // calls made at once are in flight at once
			fake, url := streamtest.FakeTenant(t, opts)
			c := streamtest.NewCollector()
			in := threatsYAML(url, "feeds: [url_protect]\n"+tc.conf)
			_, stop := streamtest.StartStream(t, streamtest.StreamSpec{Input: in}, c)
			c.WaitFor(t, 20*time.Second, func(m []*service.Message) bool { return len(m) >= chaosEvents })
			stats := fake.Stats()
			msgs := streamtest.Settle(c)
			stop()
			assert.Equal(t, chaosEvents, distinct(eventIDs(msgs)))
			assert.Len(t, msgs, chaosEvents)
			assert.Equal(t, tc.parallel, stats.MaxConcurrent > 2, "calls in flight at once: %d", stats.MaxConcurrent)
			assert.LessOrEqual(t, stats.Calls["/api/ttp/url/get-logs"], tc.calls, "one walk over each slice (and a poll or two)")
			assert.Zero(t, stats.PagesServedTwice, "no page read twice")
		})
	}
}

// runAccepting runs feed against url with its checkpoint in the file cache at dir. The output
// acknowledges whole batches while fewer than accept records were delivered (accept < 0: all),
// and then holds every batch until the stream stops; it returns the "source/id" of each record
// acknowledged. With accept >= 0 it stops once the output holds a batch and the acknowledged
// records had time to be committed; otherwise once want records came and the feed went quiet.
func runAccepting(t *testing.T, url, feed, dir string, accept, want int, f mimecastfake.Faults) []string {
	t.Helper()
	var (
		mu      sync.Mutex
		keys    []string
		holding = make(chan struct{})
		release = make(chan struct{})
		once    sync.Once
	)
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML(chaosLogLevel()))
	require.NoError(t, b.AddResourcesYAML(fileCache(dir)))
	require.NoError(t, b.AddInputYAML(threatsYAML(url, chaosFeedYAML(feed)+"max_retries: 2\nbackfill_slice: 1h\ncheckpoint_cache: ckpt\n")))
	require.NoError(t, b.AddBatchConsumerFunc(func(ctx context.Context, batch service.MessageBatch) error {
		mu.Lock()
		if accept >= 0 && len(keys) >= accept {
			mu.Unlock()
			once.Do(func() { close(holding) })
			select {
			case <-ctx.Done():
			case <-release:
			}
			return errors.New("held until the stream stops")
		}
		defer mu.Unlock()
		for _, m := range batch {
			keys = append(keys, meta(m, metaSource)+"/"+meta(m, metaEventID))
		}
		return nil
	}))
	_, stop := streamtest.RunBuilt(t, b)
	if accept >= 0 {
		select {
		case <-holding:
		case <-time.After(30 * time.Second):
			t.Fatal("the output was never reached past the accepted records")
		}
		time.Sleep(300 * time.Millisecond) // the acknowledged batches are committed
	} else {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := distinct(keys)
			mu.Unlock()
			if n >= want {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(400 * time.Millisecond) // repeats would come now
	}
	mu.Lock()
	out := slices.Clone(keys)
	mu.Unlock()
	close(release)
	if accept >= 0 {
		// The output now rejects every batch, and the input replays them: the stream must stop
		// in the middle of that (a replay waiting out its back-off once hung the shutdown).
		time.Sleep(300 * time.Millisecond)
	}
	stop()
	return out
}

// A process stopped at any acknowledged point and started again emits every record it had not
// acknowledged, and none it had, whatever the faults.
func TestChaosRestartAtARandomAcknowledgedPointReEmitsNothing(t *testing.T) {
	const seeds = 3
	anchor := time.Now().UTC().Truncate(time.Minute)
	for _, feed := range chaosFeeds() {
		t.Run(feed, func(t *testing.T) {
			t.Parallel()
			truth := truthOf(t, anchor, feed)
			for seed := range uint64(seeds) {
				rng := rand.New(rand.NewPCG(seed, uint64(len(feed))))
				cc := randomChaos(seed*17 + uint64(len(feed)))
				accept := 1 + rng.IntN(len(truth)-1)
				t.Run(fmt.Sprintf("seed%d/accept%d/%s", seed, accept, cc), func(t *testing.T) {
					_, url := streamtest.FakeTenant(t, chaosTenant(anchor, cc.faults))
					dir := t.TempDir()
					first := runAccepting(t, url, feed, dir, accept, 0, cc.faults)
					require.NotEmpty(t, first)
					second := runAccepting(t, url, feed, dir, -1, len(truth)-distinct(first), cc.faults)
					assert.Empty(t, intersect(first, second), "records acknowledged before the restart emitted again")
					assertExactlyOnce(t, feed, truth, append(first, second...), 0)
				})
			}
		})
	}
}

func intersect(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range a {
		in[x] = true
	}
	var out []string
	for _, x := range b {
		if in[x] {
			out = append(out, x)
		}
	}
	return out
}

// appliesTo says whether the fault named in a chaosCase's String can hit feed: the SIEM
// listing and file faults only hit SIEM, the /api/* list faults only the window feeds.
func appliesTo(fault, feed string) bool {
	switch fault {
	case "stall", "dupurl", "expiredurl", "cutgzip":
		return feed == feedSIEM
	case "dup", "refuse", "order", "slice", "fail200":
		return feed != feedSIEM
	}
	return true
}

// chaosTally is what the chaos table counts for one feed and fault.
type chaosTally struct{ runs, lost, duplicates, repeatsAfterNacks int }

// TestChaosTable runs MIMECAST_CHAOS_SEEDS seeded fault combinations on every feed (task chaos)
// and prints, per feed and fault, the runs it took part in, the records lost and the records
// delivered twice (in runs without rejected batches; after a rejection, repeats are
// at-least-once and counted apart). Without the variable it is skipped: CI runs the bounded
// chaos tests above.
func TestChaosTable(t *testing.T) {
	seeds, _ := strconv.Atoi(os.Getenv("MIMECAST_CHAOS_SEEDS"))
	if seeds <= 0 {
		t.Skip("set MIMECAST_CHAOS_SEEDS (task chaos) to run many seeds and print the table")
	}
	anchor := time.Now().UTC().Truncate(time.Minute)
	var (
		mu    sync.Mutex
		table = map[[2]string]*chaosTally{}
	)
	add := func(feed, fault string, lost, twice, repeats int) {
		mu.Lock()
		defer mu.Unlock()
		k := [2]string{feed, fault}
		if table[k] == nil {
			table[k] = &chaosTally{}
		}
		tl := table[k]
		tl.runs++
		tl.lost += lost
		tl.duplicates += twice
		tl.repeatsAfterNacks += repeats
	}
	t.Run("feeds", func(t *testing.T) {
		for _, feed := range chaosFeeds() {
			t.Run(feed, func(t *testing.T) {
				t.Parallel()
				truth := truthOf(t, anchor, feed)
				for seed := range uint64(seeds) {
					cc := randomChaos(seed*7919 + uint64(len(feed)))
					t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
						t.Parallel() // bounded by go test -parallel
						_, url := streamtest.FakeTenant(t, chaosTenant(anchor, cc.faults))
						got, rejected := drainFeed(t, url, feed, len(truth), cc, seed)
						d := streamtest.CompareDelivery(truth, got)
						lost, twice := len(d.Lost), len(d.Twice)
						repeats := 0
						if rejected > 0 {
							twice, repeats = 0, twice
						}
						faults := []string{"all"}
						for _, part := range strings.Split(cc.String(), ",") {
							name, _, _ := strings.Cut(part, "=")
							if appliesTo(name, feed) {
								faults = append(faults, name)
							}
						}
						for _, f := range faults {
							add(feed, f, lost, twice, repeats)
						}
						assert.Zero(t, lost, "seed %d (%s): records lost", seed, cc)
						assert.Zero(t, twice, "seed %d (%s): records delivered twice", seed, cc)
					})
				}
			})
		}
	})
	keys := slices.SortedFunc(maps.Keys(table), func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	var b strings.Builder
	fmt.Fprintf(&b, "\nchaos: %d seeds per feed\n%-22s %-14s %6s %6s %10s %18s\n", seeds, "feed", "fault", "runs", "lost", "duplicates", "repeats_after_nack")
	for _, k := range keys {
		tl := table[k]
		fmt.Fprintf(&b, "%-22s %-14s %6d %6d %10d %18d\n", k[0], k[1], tl.runs, tl.lost, tl.duplicates, tl.repeatsAfterNacks)
	}
	fmt.Print(b.String())
}

// Records Mimecast indexes late, behind the cursor, are read by the next window's overlap: none
// is lost and none comes twice. With overlap 0s the same tenant loses them, which is what the
// overlap is for.
func TestWindowFeedsReadRecordsIndexedLateWithinTheOverlap(t *testing.T) {
	const lateBy = 3 * time.Second
	cases := []struct {
		overlap  string
		loseNone bool
	}{{"5m", true}, {"0s", false}}
	for _, tc := range cases {
		t.Run("overlap "+tc.overlap, func(t *testing.T) {
			t.Parallel()
			opts := mimecastfake.Options{
				Seed: 5, Anchor: time.Now().UTC(),
				Sizes:  mimecastfake.Sizes{EventsPerFeed: 5, Span: time.Hour, LiveEventsPerHour: 1800},
				Faults: mimecastfake.Faults{LateIndexBy: lateBy},
			}
			_, url := streamtest.FakeTenant(t, opts)
			c := streamtest.NewCollector()
			in := threatsYAML(url, "feeds: [url_protect]\noverlap: "+tc.overlap+"\n")
			_, stop := streamtest.StartStream(t, streamtest.StreamSpec{Input: in}, c)
			time.Sleep(11 * time.Second) // a live record every 2 s, every other one indexed 3 s late
			end := time.Now()
			stop()
			got := c.Snapshot()

			// What the tenant holds, read long after each record was indexed.
			time.Sleep(lateBy)
			opts.Faults = mimecastfake.Faults{}
			_, clean := streamtest.FakeTenant(t, opts)
			all := collectAll(t, threatsYAML(clean, "feeds: [url_protect]\n"), "", 5)
			var want []string
			for _, m := range all {
				at, err := time.Parse(time.RFC3339Nano, meta(m, metaEventTime))
				require.NoError(t, err)
				// Indexed a poll or two before the run ended: it must have been read.
				if at.Add(lateBy + time.Second).Before(end) {
					want = append(want, meta(m, metaEventID))
				}
			}
			require.GreaterOrEqual(t, len(want), 5+3, "live records were indexed during the run")
			ids := eventIDs(got)
			assert.Len(t, ids, distinct(ids), "no record twice")
			missing := 0
			for _, id := range want {
				if !slices.Contains(ids, id) {
					missing++
				}
			}
			if tc.loseNone {
				assert.Zero(t, missing, "records indexed late are read by the overlap")
			} else {
				assert.Positive(t, missing, "without an overlap the late records are lost: the test can fail")
			}
		})
	}
}

// The back-off of a long streak of failed pages stays within max(poll_interval, 1s), jitter
// aside, however long the streak.
func TestStreakBackoffIsBoundedByThePollInterval(t *testing.T) {
	r := &sourceRunner{in: &threatsInput{cfg: &threatsConfig{pollInterval: 50 * time.Millisecond}}}
	for _, n := range []int{1, 2, 5, 17, 1000} {
		b := r.streakBackoff(n)
		assert.Equal(t, time.Second, b, "streak %d", n)
		assert.LessOrEqual(t, r.nextBackoff(&b), time.Second+time.Second/4, "streak %d", n)
	}
	r.in.cfg.pollInterval = time.Minute
	assert.Equal(t, 4*time.Second, r.streakBackoff(3))
	assert.Equal(t, time.Minute, r.streakBackoff(40))
}

func chaosLogLevel() string {
	if l := os.Getenv("CHAOS_LOG"); l != "" {
		return "level: " + l
	}
	return "level: none"
}
