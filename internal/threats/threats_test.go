package threats

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/refusal"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// smallTenant has 30 events per feed, all inside a 24h lookback.
func smallTenant() mimecastfake.Options {
	return mimecastfake.Options{Seed: 7, Sizes: mimecastfake.Sizes{EventsPerFeed: 30, Span: 10 * time.Hour}}
}

func threatsYAML(url, extra string) string {
	return "mimecast_threats:\n" + streamtest.Indent(streamtest.ConnYAML(url)+"poll_interval: 50ms\nlookback: 24h\npage_size: 7\n"+extra, "  ")
}

func meta(m *service.Message, key string) string {
	v, _ := m.MetaGet(key)
	return v
}

func eventIDs(msgs []*service.Message) []string {
	ids := make([]string, 0, len(msgs))
	for _, m := range msgs {
		ids = append(ids, meta(m, metaEventID))
	}
	return ids
}

func distinct(ids []string) int {
	s := slices.Clone(ids)
	slices.Sort(s)
	return len(slices.Compact(s))
}

// collectAll runs the input until it has emitted n messages and gone quiet, and returns them.
func collectAll(t *testing.T, input, resources string, n int) []*service.Message {
	t.Helper()
	c := streamtest.NewCollector()
	_, stop := streamtest.StartStream(t, streamtest.StreamSpec{Input: input, Resources: resources}, c)
	c.WaitFor(t, 15*time.Second, func(m []*service.Message) bool { return len(m) >= n })
	msgs := streamtest.Settle(c)
	stop()
	return msgs
}

func TestThreatsEmitsEveryEventOfTheLookbackOnceWithMetadata(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallTenant())
	msgs := collectAll(t, threatsYAML(url, "feeds: [url_protect]\n"), "", 30)
	require.Len(t, msgs, 30)
	assert.Equal(t, 30, distinct(eventIDs(msgs)))
	for _, m := range msgs {
		assert.Equal(t, "url_protect", meta(m, metaFeed))
		assert.Equal(t, "url", meta(m, metaThreatType))
		assert.Contains(t, []string{"blocked", "warned", "allowed"}, meta(m, metaStatus))
		_, err := time.Parse(time.RFC3339Nano, meta(m, metaEventTime))
		assert.NoError(t, err)
		assert.Len(t, meta(m, metaEventID), 64, "click logs have no id: the id is a SHA-256")
		body, err := m.AsStructured()
		require.NoError(t, err)
		obj := body.(map[string]any)
		assert.NotContains(t, obj, "clickLogs", "each click is its own message, not the wrapper")
		assert.Contains(t, obj, "url")
	}
}

func TestThreatsLookbackBoundsTheFirstRun(t *testing.T) {
	_, url := streamtest.FakeTenant(t, mimecastfake.Options{Seed: 3, Sizes: mimecastfake.Sizes{EventsPerFeed: 72, Span: 72 * time.Hour}})
	start := time.Now()
	c := streamtest.NewCollector()
	streamtest.StartStream(t, streamtest.StreamSpec{Input: threatsYAML(url, "feeds: [url_protect]\nlookback: 6h\noverlap: 0s\n")}, c)
	c.WaitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) > 0 })
	msgs := streamtest.Settle(c)
	assert.Greater(t, len(msgs), 3)
	assert.Less(t, len(msgs), 12, "a 6h lookback over one event an hour")
	for _, m := range msgs {
		ts, err := time.Parse(time.RFC3339Nano, meta(m, metaEventTime))
		require.NoError(t, err)
		assert.False(t, ts.Before(start.Add(-6*time.Hour-time.Minute)), "event %s is older than the lookback", ts)
	}
}

func TestThreatsSelectionsAndFiltersKeepExactlyTheMatchingEvents(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallTenant())
	all := collectAll(t, threatsYAML(url, "feeds: [threat_events, url_protect]\n"), "", 60)
	require.Len(t, all, 60)

	cases := []struct {
		name  string
		extra string
		keep  func(m *service.Message) bool
	}{
		{"statuses", "statuses: [blocked]\n", func(m *service.Message) bool { return meta(m, metaStatus) == "blocked" }},
		{"threat_types", "threat_types: [phishing, url]\n", func(m *service.Message) bool {
			return meta(m, metaThreatType) == "phishing" || meta(m, metaThreatType) == "url"
		}},
		{"threat_sources", "threat_sources: [url_protect, email]\n", func(m *service.Message) bool {
			return meta(m, metaSource) == "url_protect" || meta(m, metaSource) == "email"
		}},
		{"include and exclude filters", `filters:
  - expression: 'status == "blocked" || status == "warned"'
    action: include
  - expression: 'feed == "threat_events" && event.severity == "low"'
    action: exclude
`, func(m *service.Message) bool {
			s := meta(m, metaStatus)
			if s != "blocked" && s != "warned" {
				return false
			}
			body, _ := m.AsStructured()
			return !(meta(m, metaFeed) == "threat_events" && body.(map[string]any)["severity"] == "low")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for _, m := range all {
				if tc.keep(m) {
					want = append(want, meta(m, metaEventID))
				}
			}
			require.NotEmpty(t, want, "the tenant must have matching events for this case to mean anything")
			require.Less(t, len(want), len(all), "the selection must drop something")
			c := streamtest.NewCollector()
			streamtest.StartStream(t, streamtest.StreamSpec{Input: threatsYAML(url, "feeds: [threat_events, url_protect]\n"+tc.extra)}, c)
			c.WaitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) >= len(want) })
			got := eventIDs(streamtest.Settle(c))
			slices.Sort(got)
			slices.Sort(want)
			assert.Equal(t, want, got)
		})
	}
}

func fileCache(dir string) string {
	return fmt.Sprintf("cache_resources:\n  - label: ckpt\n    file:\n      directory: %s\n", dir)
}

func TestThreatsRestartResumesFromTheCheckpointWithoutReemitting(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallTenant())
	dir := t.TempDir()
	in := threatsYAML(url, "feeds: [url_protect, impersonation_protect]\ncheckpoint_cache: ckpt\n")
	first := collectAll(t, in, fileCache(dir), 60)
	require.Len(t, first, 60)
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, files, 2, "one checkpoint per feed")

	c := streamtest.NewCollector()
	streamtest.StartStream(t, streamtest.StreamSpec{Input: in, Resources: fileCache(dir)}, c)
	assert.Empty(t, streamtest.Settle(c), "a restart re-emitted events that were already delivered")
}

func TestThreatsKillMidBacklogThenRestartLosesNothing(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallTenant())
	dir := t.TempDir()
	in := threatsYAML(url, "feeds: [url_protect]\ncheckpoint_cache: ckpt\nmax_pages_in_flight: 1\n")

	// The first run stops hard after 10 messages: later pages are never acked.
	var delivered atomic.Int32
	c1 := streamtest.NewCollector()
	c1.Reject = func(*service.Message) bool { return delivered.Add(1) > 10 }
	s1, _ := streamtest.StartStream(t, streamtest.StreamSpec{Input: in, Resources: fileCache(dir)}, c1)
	c1.WaitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) >= 10 })
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_ = s1.Stop(ctx) // may time out: the rejected batch is being retried; the kill is the point

	c2 := streamtest.NewCollector()
	streamtest.StartStream(t, streamtest.StreamSpec{Input: in, Resources: fileCache(dir)}, c2)
	c2.WaitFor(t, 10*time.Second, func(m []*service.Message) bool {
		return distinct(append(eventIDs(c1.Snapshot()), eventIDs(m)...)) >= 30
	})
	second := streamtest.Settle(c2)
	union := append(eventIDs(c1.Snapshot()), eventIDs(second)...)
	assert.Equal(t, 30, distinct(union), "every event reached the output at least once")
	assert.LessOrEqual(t, len(union)-30, 7, "replays are bounded by the page in flight at the kill")
}

// While the output rejects every batch, the checkpoint moves past no record: a restart, and the
// same stream once the output accepts again, deliver every one. Slices without records may be
// committed meanwhile, so the checkpoint itself may be written.
func TestThreatsNackReplaysWithoutMovingTheCheckpoint(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallTenant())
	dir := t.TempDir()
	in := threatsYAML(url, "feeds: [url_protect]\ncheckpoint_cache: ckpt\nauto_replay_nacks: false\n")
	var rejected atomic.Int32
	rejectAll := streamtest.NewCollector()
	rejectAll.Reject = func(*service.Message) bool {
		rejected.Add(1)
		return true
	}
	_, stop := streamtest.StartStream(t, streamtest.StreamSpec{Input: in, Resources: fileCache(dir)}, rejectAll)
	require.Eventually(t, func() bool { return rejected.Load() > 40 }, 10*time.Second, 10*time.Millisecond)
	stop()

	var accept atomic.Bool
	c := streamtest.NewCollector()
	c.Reject = func(*service.Message) bool {
		if !accept.Load() {
			rejected.Add(1)
			return true
		}
		return false
	}
	streamtest.StartStream(t, streamtest.StreamSpec{Input: in, Resources: fileCache(dir)}, c)
	before := rejected.Load()
	require.Eventually(t, func() bool { return rejected.Load() > before+10 }, 10*time.Second, 10*time.Millisecond)
	accept.Store(true)
	c.WaitFor(t, 10*time.Second, func(m []*service.Message) bool { return distinct(eventIDs(m)) >= 30 })
	msgs := streamtest.Settle(c)
	assert.Equal(t, 30, distinct(eventIDs(msgs)))
	// The pages in flight behind the last rejected one may have been accepted and are read again.
	assert.LessOrEqual(t, len(msgs), 30+4*7, "repeats are bounded by max_pages_in_flight pages")
}

func TestThreatsDuplicatesAcrossPagesAreEmittedOnce(t *testing.T) {
	opts := smallTenant()
	opts.Faults = mimecastfake.Faults{DuplicateAcrossPages: 3}
	fake, url := streamtest.FakeTenant(t, opts)
	// One window of several pages; the chaos tests repeat records across the pages of slices.
	msgs := collectAll(t, threatsYAML(url, "feeds: [url_protect]\nbackfill_slice: 0s\n"), "", 30)
	assert.Len(t, msgs, 30)
	assert.Equal(t, 30, distinct(eventIDs(msgs)))
	assert.Equal(t, 0, fake.Faults().DuplicateAcrossPages, "the fault must have fired")
}

func TestThreatsContentViewAttachesArchivedContent(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallTenant())
	msgs := collectAll(t, threatsYAML(url, "feeds: [url_protect]\ncontent_view: true\n"), "", 30)
	withContent := 0
	for _, m := range msgs {
		body, err := m.AsStructured()
		require.NoError(t, err)
		content, ok := body.(map[string]any)["content"].(map[string]any)
		if !ok {
			continue
		}
		withContent++
		assert.Equal(t, meta(m, metaMessageID), content["message_id"])
		assert.NotEmpty(t, content["headers"])
	}
	assert.Positive(t, withContent, "clicks on archived mail get its content")
}

// Held messages carry no Message-ID but an id the archive's endpoints take: content_view
// fetches their content by it and gives them the archived email's Message-ID, so processors
// after the input (mimecast_enrich) can work on them too.
func TestThreatsContentViewOnHeldMessagesUsesTheirOwnID(t *testing.T) {
	fake, url := streamtest.FakeTenant(t, smallTenant())
	msgs := collectAll(t, threatsYAML(url, "feeds: [held_messages]\ncontent_view: true\n"), "", 60)
	held := 0
	for _, m := range msgs {
		require.NoError(t, m.GetError())
		body, err := m.AsStructured()
		require.NoError(t, err)
		obj := body.(map[string]any)
		if meta(m, metaSource) != "hold_queue" {
			assert.Empty(t, meta(m, metaContentID), "release log entries name no archived email")
			continue
		}
		held++
		assert.Equal(t, obj["id"], meta(m, metaContentID), "the hold record's own id")
		content, ok := obj["content"].(map[string]any)
		if !assert.True(t, ok, "held message %s has its content", obj["id"]) {
			continue
		}
		assert.NotEmpty(t, content["headers"])
		assert.NotEmpty(t, meta(m, metaMessageID), "the archived email's Message-ID")
		assert.Equal(t, content["message_id"], meta(m, metaMessageID))
	}
	assert.Equal(t, 30, held, "every held message")
	assert.Equal(t, 30, fake.Stats().Calls["/api/archive/get-message-detail"], "one detail call per held message, no search")
	assert.Zero(t, fake.Stats().Calls["/api/message-finder/search"], "%v", fake.Stats().Calls)
}

func TestThreatsContentViewForbiddenDegradesToEventsWithoutContent(t *testing.T) {
	opts := smallTenant()
	var products []string
	for _, p := range mimecastfake.AllProducts {
		if p != mimecastfake.ProductContentView {
			products = append(products, p)
		}
	}
	opts.Clients = []mimecastfake.ClientApp{{ID: mimecastfake.DefaultClientID, Secret: mimecastfake.DefaultClientSecret, Products: products}}
	fake, url := streamtest.FakeTenant(t, opts)
	msgs := collectAll(t, threatsYAML(url, "feeds: [url_protect]\ncontent_view: true\n"), "", 30)
	require.Len(t, msgs, 30)
	for _, m := range msgs {
		body, err := m.AsStructured()
		require.NoError(t, err)
		assert.NotContains(t, body.(map[string]any), "content")
		assert.Contains(t, []string{contentRefused, contentNotArchived}, meta(m, metaContent))
	}
	refused := fake.Stats().EndpointStatuses["/api/archive/get-message-part"][403]
	assert.Positive(t, refused, "the content endpoint refused")
	assert.LessOrEqual(t, refused, refusal.DefaultThreshold+contentConcurrency,
		"after three distinct messages refused in a row (and the calls already in flight) the input stops asking")
}

// A refusal of one message's content leaves the other events their content.
func TestThreatsContentViewRefusalOfOneMessageLeavesTheOthersTheirContent(t *testing.T) {
	// Not parallel: half the messages are refused, so with three in a row, in whatever order
	// the calls in flight answer, the lookup would close; this test is about single messages.
	threshold := contentRefusalThreshold
	contentRefusalThreshold = 1000
	t.Cleanup(func() { contentRefusalThreshold = threshold })
	fake := mimecastfake.New(smallTenant())
	var refused atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/archive/get-message-detail" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			h := fnv.New32a()
			h.Write(body)
			if h.Sum32()%2 == 0 && !bytes.Contains(body, []byte(mimecast.ProbeRecordID)) { // single messages, not the permission
				refused.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"meta":{"status":403},"data":[],"fail":[{"errors":[{"code":"app_forbidden","message":"Forbidden to perform the requested operation","retryable":false}]}]}`))
				return
			}
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	msgs := collectAll(t, threatsYAML(srv.URL, "feeds: [held_messages]\ncontent_view: true\n"), "", 60)
	counts := map[string]int{}
	for _, m := range msgs {
		if meta(m, metaSource) == "hold_queue" {
			counts[meta(m, metaContent)]++
		}
	}
	t.Logf("content per held message: %v", counts)
	assert.Positive(t, refused.Load())
	assert.Equal(t, int(refused.Load()), counts[contentRefused], "each refusal is its own message's")
	assert.Equal(t, 30, counts[contentRefused]+counts[contentAttached], "every other held message has its content")
	assert.Positive(t, counts[contentAttached])
}

func TestThreatsUndecodableSIEMLineBecomesAnErrorFlaggedMessage(t *testing.T) {
	opts := smallTenant()
	opts.Faults = mimecastfake.Faults{MalformedLines: 1}
	_, url := streamtest.FakeTenant(t, opts)
	c := streamtest.NewCollector()
	streamtest.StartStream(t, streamtest.StreamSpec{Input: threatsYAML(url, "feeds: [siem]\nsiem_event_types: [av]\n")}, c)
	msgs := c.WaitFor(t, 10*time.Second, func(m []*service.Message) bool {
		return slices.ContainsFunc(m, func(m *service.Message) bool { return m.GetError() != nil })
	})
	var bad []*service.Message
	for _, m := range msgs {
		if m.GetError() != nil {
			bad = append(bad, m)
		}
	}
	require.Len(t, bad, 1)
	assert.Equal(t, "siem", meta(bad[0], metaFeed))
	raw, err := bad[0].AsBytes()
	require.NoError(t, err)
	assert.NotEmpty(t, raw, "the raw text is kept for the dead letter queue")
}
