package threats

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// siemTenant has 1,200 av events (three batch files of 500, the last partial) inside the lookback.
func siemTenant(f mimecastfake.Faults) mimecastfake.Options {
	return mimecastfake.Options{Seed: 11, Faults: f, Sizes: mimecastfake.Sizes{EventsPerFeed: 1200, Span: 10 * time.Hour}}
}

const siemAV = "feeds: [siem]\nsiem_event_types: [av]\n"

func goodMessages(msgs []*service.Message) []*service.Message {
	var out []*service.Message
	for _, m := range msgs {
		if m.GetError() == nil {
			out = append(out, m)
		}
	}
	return out
}

func TestThreatsSIEMReadsEveryBatchFileEventOnce(t *testing.T) {
	fake, url := streamtest.FakeTenant(t, siemTenant(mimecastfake.Faults{}))
	msgs := collectAll(t, threatsYAML(url, siemAV), "", 1200)
	require.Len(t, msgs, 1200)
	assert.Equal(t, 1200, distinct(eventIDs(msgs)))
	for _, m := range msgs[:5] {
		assert.Equal(t, "siem", meta(m, metaFeed))
		assert.Equal(t, "malware", meta(m, metaThreatType))
	}
	assert.Zero(t, fake.Stats().PagesServedTwice)
}

func TestThreatsSIEMDuplicatedAndExpiredURLsLoseNothing(t *testing.T) {
	fake, url := streamtest.FakeTenant(t, siemTenant(mimecastfake.Faults{DuplicateURLs: 2, ExpiredURLs: 1}))
	msgs := collectAll(t, threatsYAML(url, siemAV), "", 1200)
	assert.Len(t, msgs, 1200, "an expired URL is listed again, a duplicated one read once")
	assert.Equal(t, 1200, distinct(eventIDs(msgs)))
	f := fake.Faults()
	assert.Zero(t, f.DuplicateURLs+f.ExpiredURLs, "both faults fired")
}

func TestThreatsSIEMFileCutShortIsDownloadedAgainAndLosesNothing(t *testing.T) {
	fake, url := streamtest.FakeTenant(t, siemTenant(mimecastfake.Faults{TruncatedGzip: 1}))
	msgs := collectAll(t, threatsYAML(url, siemAV), "", 1200)
	assert.Equal(t, 1200, len(msgs), "the second download has the events after the cut")
	assert.Equal(t, 1200, len(goodMessages(msgs)), "no error-flagged record for a cut the second download heals")
	assert.Equal(t, 1200, distinct(eventIDs(msgs)))
	assert.Zero(t, fake.Faults().TruncatedGzip, "the fault fired")
}

func TestThreatsSIEMFileCutOnEveryDownloadFlagsItsEndOnceAndTheRestFlows(t *testing.T) {
	// Every listing cuts every file (of 500, 500 and 200 events) half-way.
	_, url := streamtest.FakeTenant(t, siemTenant(mimecastfake.Faults{TruncatedGzip: 1000}))
	c := streamtest.NewCollector()
	streamtest.StartStream(t, streamtest.StreamSpec{Input: threatsYAML(url, siemAV)}, c)
	c.WaitFor(t, 15*time.Second, func(m []*service.Message) bool { return len(m) >= 603 })
	msgs := streamtest.Settle(c)
	var bad int
	for _, m := range msgs {
		if m.GetError() != nil {
			bad++
			assert.Contains(t, m.GetError().Error(), "truncated or corrupt")
		}
	}
	assert.Equal(t, 3, bad, "each damaged file's end is reported once, though every cut reads as the same empty text")
	good := goodMessages(msgs)
	assert.Equal(t, 250+250+100, len(good), "the events before each cut")
	assert.Equal(t, len(good), distinct(eventIDs(good)))
}

func TestThreatsSIEMRestartResumesFromTheSavedPageToken(t *testing.T) {
	fake, url := streamtest.FakeTenant(t, siemTenant(mimecastfake.Faults{}))
	dir := t.TempDir()
	in := threatsYAML(url, siemAV+"checkpoint_cache: ckpt\n")
	require.Len(t, collectAll(t, in, fileCache(dir), 1200), 1200)
	listed := fake.Stats().Calls["/siem/v1/batch/events/cg"]

	c := streamtest.NewCollector()
	streamtest.StartStream(t, streamtest.StreamSpec{Input: in, Resources: fileCache(dir)}, c)
	assert.Empty(t, streamtest.Settle(c))
	assert.Greater(t, fake.Stats().Calls["/siem/v1/batch/events/cg"], listed, "it polled again")
	assert.Zero(t, fake.Stats().PagesServedTwice, "from the saved token, not from the start")
}

// downloads counts the batch files the fake served (each file has a path of its own).
func downloads(fake *mimecastfake.Server) int {
	n := 0
	for path, calls := range fake.Stats().Calls {
		if strings.HasPrefix(path, "/siem-files/") {
			n += calls
		}
	}
	return n
}

// While the pipeline holds the first file's events, the input reads the second file and has the
// third one downloaded already: the next file of a listing page is fetched ahead, not after.
func TestThreatsSIEMDownloadsTheNextFileWhileOneWaitsForThePipeline(t *testing.T) {
	fake, url := streamtest.FakeTenant(t, siemTenant(mimecastfake.Faults{}))
	release := make(chan struct{})
	var received atomic.Int64
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML(`level: none`))
	require.NoError(t, b.AddInputYAML(threatsYAML(url, siemAV+"max_pages_in_flight: 1\n")))
	require.NoError(t, b.AddConsumerFunc(func(ctx context.Context, _ *service.Message) error {
		received.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}))
	_, stop := streamtest.RunBuilt(t, b)
	defer stop()
	defer close(release)

	// The first message may reach the consumer after the third download started: wait for both.
	require.Eventually(t, func() bool { return downloads(fake) == 3 && received.Load() == 1 }, 10*time.Second, 10*time.Millisecond,
		"file 1 read, file 2 read while file 1 waits for acknowledgement, file 3 downloaded ahead")
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, 3, downloads(fake), "no file further ahead")
	assert.Equal(t, int64(1), received.Load(), "nothing was acknowledged")
}

// Only files the listing says are small are held whole; the rest (and files of unknown size)
// are read as streams, in turn.
func TestThreatsSIEMDownloadsAheadOnlySmallFiles(t *testing.T) {
	s := &siemSource{}
	for _, tc := range []struct {
		size  int64
		ahead bool
	}{{0, false}, {-1, false}, {siemPrefetchMax + 1, false}, {1 << 30, false}} {
		p := s.prefetchFile(t.Context(), mimecast.SIEMBatchFile{URL: "https://files.example/f", Size: tc.size})
		assert.Equal(t, tc.ahead, p != nil, "size %d", tc.size)
	}
}

// Once a SIEM type has a cursor it is never listed by date again, not after being caught up and
// not after a restart: the date filter is day-granular, so a listing by date repeats files.
func TestThreatsSIEMListsByDateOnlyBeforeItHasACursor(t *testing.T) {
	fake := mimecastfake.New(siemTenant(mimecastfake.Faults{}))
	var (
		mu             sync.Mutex
		byDate, listed int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == mimecast.PathSIEMBatch {
			mu.Lock()
			listed++
			if r.URL.Query().Get("dateRangeStartsAt") != "" || r.URL.Query().Get("dateRangeEndsAt") != "" {
				byDate++
				assert.Empty(t, r.URL.Query().Get("nextPage"), "a date and a cursor are never sent together")
			}
			mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	in := threatsYAML(srv.URL, siemAV+"checkpoint_cache: ckpt\n")
	require.Len(t, collectAll(t, in, fileCache(dir), 1200), 1200)
	c := streamtest.NewCollector()
	_, stop := streamtest.StartStream(t, streamtest.StreamSpec{Input: in, Resources: fileCache(dir)}, c)
	time.Sleep(500 * time.Millisecond) // several polls of the caught-up listing
	stop()
	assert.Empty(t, c.Snapshot())
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, byDate, "only the first listing of the first run asks by date")
	assert.Greater(t, listed, 4, "the listing was polled again, by cursor")
}

// Every detection line gets a status from the fields that carry it, and the statuses select:
// spam lines say only whether the message was tagged, attachment protect lines only their verdict.
func TestThreatsSIEMDetectionLinesGetTheirStatusFromEveryField(t *testing.T) {
	_, url := streamtest.FakeTenant(t, chaosTenant(time.Now().UTC(), mimecastfake.Faults{}))
	types := "siem_event_types: [av, spam, internal email protect, impersonation protect, url protect, attachment protect]\n"
	msgs := collectAll(t, threatsYAML(url, "feeds: [siem]\n"+types), "", 6*chaosEvents)
	require.Len(t, msgs, 6*chaosEvents)
	byType := map[string]map[string]int{}
	for _, m := range msgs {
		require.NoError(t, m.GetError())
		body, err := m.AsStructured()
		require.NoError(t, err)
		line := body.(map[string]any)
		typ, status := line["type"].(string), meta(m, metaStatus)
		assert.NotEmpty(t, status, "a %s line has a status: %v", typ, line)
		if byType[typ] == nil {
			byType[typ] = map[string]int{}
		}
		byType[typ][status]++
		switch typ {
		case "spam":
			if line["taggedMalicious"] == "true" {
				assert.Equal(t, "tagged", status)
			} else {
				assert.Equal(t, "detected", status)
			}
		case "attachment protect":
			want := map[string]string{"Malicious": "blocked", "Safe": "delivered"}[line["subtype"].(string)]
			assert.Equal(t, want, status)
			assert.Equal(t, map[string]string{"Malicious": "malware", "Safe": "attachment"}[line["subtype"].(string)], meta(m, metaThreatType))
		case "url protect":
			assert.Equal(t, map[string]string{"Block": "blocked", "Allow": "allowed"}[line["action"].(string)], status, "an allowed click's blockReason n/a says nothing")
		}
	}
	t.Logf("statuses per type: %v", byType)
	assert.Len(t, byType["spam"], 2, "spam lines are tagged or detected")

	selected := collectAll(t, threatsYAML(url, "feeds: [siem]\n"+types+"statuses: [tagged]\n"), "", byType["spam"]["tagged"]+byType["impersonation protect"]["tagged"])
	for _, m := range selected {
		assert.Equal(t, "tagged", meta(m, metaStatus))
	}
}
