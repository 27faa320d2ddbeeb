package enrich

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

const (
	pathMessageDetail = "/api/archive/get-message-detail"
)

// refuseSome answers 403 on path for the ids refuse picks, as Mimecast refuses one message (a
// legal hold, a Smart Tag, a message outside the role's scope) while it serves the others.
// While all is set, every call on path is refused, as for an application without the
// permission.
type refuseSome struct {
	path    string
	status  int    // the answer; 0 is 403
	body    string // the answer's body with status; empty for a retryable fail[]
	refuse  func(id string) bool
	all     atomic.Bool
	probeOK bool // while all is set, the permission probe's made-up id is still answered
	refused atomic.Int32
}

func (rs *refuseSome) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != rs.path {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var req struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &req)
		id := ""
		if len(req.Data) > 0 {
			id = req.Data[0].ID
		}
		probe := id == mimecast.ProbeRecordID
		if (rs.all.Load() && !(probe && rs.probeOK)) || (!probe && id != "" && rs.refuse(id)) {
			rs.refused.Add(1)
			w.Header().Set("Content-Type", "application/json")
			if rs.status != 0 {
				body := rs.body
				if body == "" {
					body = `{"meta":{"status":500},"data":[],"fail":[{"errors":[{"code":"err_internal","message":"Internal error","retryable":true}]}]}`
				}
				w.WriteHeader(rs.status)
				_, _ = w.Write([]byte(body))
				return
			}
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"meta":{"status":403},"data":[],"fail":[{"errors":[{"code":"app_forbidden","message":"Forbidden to perform the requested operation","retryable":false}]}]}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// everyThird picks about a third of the ids, by a hash, so the choice does not depend on order.
func everyThird(id string) bool {
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32()%3 == 0
}

// resultIn decodes the body's target field ("mimecast") whether or not the message is flagged.
func resultIn(t *testing.T, m *service.Message) map[string]any {
	t.Helper()
	b, err := m.AsBytes()
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.Unmarshal(b, &body))
	res, ok := body["mimecast"].(map[string]any)
	require.Truef(t, ok, "no mimecast object in %s", b)
	return res
}

func refusedOf(res map[string]any) []string {
	var out []string
	for _, v := range asSlice(res["refused"]) {
		out = append(out, v.(string))
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// outcomeOf is what an event learnt, in a form to compare across runs.
func outcomeOf(res map[string]any) string {
	switch {
	case slices.Contains(refusedOf(res), lookupContent):
		return "refused"
	case res[lookupContent] != nil:
		return "content"
	}
	return "no content"
}

// A refusal of one message's content is about that message: the others get their content,
// whatever the order and the batches, and the refused one keeps its tracking and says what
// was refused. With on_forbidden: fail only its events are flagged, and keep the result.
func TestEnrichRefusalOfOneMessageLeavesTheOthersTheirContent(t *testing.T) {
	for _, onForbidden := range []string{onForbiddenSkip, onForbiddenFail} {
		t.Run(onForbidden, func(t *testing.T) {
			rs := &refuseSome{path: pathMessageDetail, refuse: everyThird}
			_, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, rs.wrap)
			ids := threatMessageIDs(t, url, 20)
			conf := "lookups: [tracking, content]\non_forbidden: " + onForbidden + "\nforbidden_threshold: 1000\n"

			// One batch of every id three times, and then one batch per id in reverse order.
			outcomes := func(batches [][]string) map[string]string {
				p := newEnrich(t, url, conf)
				out := map[string]string{}
				for _, batch := range batches {
					msgs := make([]*service.Message, len(batch))
					for i, id := range batch {
						msgs[i] = event(id)
					}
					for i, m := range process(t, p, msgs...) {
						res := resultIn(t, m)
						assert.NotEmpty(t, res[lookupTracking], "tracking is kept whatever content did")
						o := outcomeOf(res)
						if o == "refused" && onForbidden == onForbiddenFail {
							var fe *forbiddenError
							require.ErrorAs(t, m.GetError(), &fe, "a refused message's events are flagged")
							assert.Equal(t, lookupContent, fe.lookup)
						} else {
							assert.NoError(t, m.GetError(), "%s: %s", batch[i], o)
						}
						if prev, ok := out[batch[i]]; ok {
							assert.Equal(t, prev, o, "every event of one id learns the same")
						}
						out[batch[i]] = o
					}
				}
				return out
			}
			var all []string
			for range 3 {
				all = append(all, ids...)
			}
			together := outcomes([][]string{all})
			var apart [][]string
			for _, id := range slices.Backward(ids) {
				apart = append(apart, []string{id})
			}
			assert.Equal(t, together, outcomes(apart), "what an id learns depends on its own answers only")
			counts := map[string]int{}
			for _, o := range together {
				counts[o]++
			}
			t.Logf("outcomes: %v", counts)
			assert.Positive(t, counts["refused"], "some content is refused")
			assert.Positive(t, counts["content"], "the rest is fetched")
		})
	}
}

// One refused get-message-info leaves the other ids their message info.
func TestEnrichRefusedMessageInfoOfOneMessageLeavesTheOthers(t *testing.T) {
	rs := &refuseSome{path: pathMessageInfo, refuse: everyThird}
	_, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, rs.wrap)
	ids := threatMessageIDs(t, url, 20)
	p := newEnrich(t, url, "forbidden_threshold: 1000\n")
	withInfo, refused := 0, 0
	for _, m := range process(t, p, eventsOf(ids)...) {
		require.NoError(t, m.GetError())
		res := resultIn(t, m)
		assert.NotEmpty(t, res[lookupTracking])
		if slices.Contains(refusedOf(res), lookupMessageInfo) {
			refused++
			continue
		}
		if len(asSlice(res[lookupMessageInfo])) > 0 {
			withInfo++
		}
	}
	assert.Positive(t, refused)
	assert.Positive(t, withInfo, "one refusal does not close message_info for every id")
}

func eventsOf(ids []string) []*service.Message {
	out := make([]*service.Message, len(ids))
	for i, id := range ids {
		out[i] = event(id)
	}
	return out
}

// Messages refused one after another close the lookup for everyone after forbidden_threshold
// distinct ones in a row (no more calls), even while the permission probe passes (every message
// might be under a legal hold); it is asked again after the recheck interval, and any success
// reopens it.
func TestEnrichRefusalsOfDistinctMessagesInARowCloseTheLookupUntilASuccess(t *testing.T) {
	rs := &refuseSome{path: pathMessageDetail, refuse: func(string) bool { return false }, probeOK: true}
	rs.all.Store(true)
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, rs.wrap)
	ids := threatMessageIDs(t, url, 12)
	p := newEnrich(t, url, "lookups: [tracking, content]\nforbidden_threshold: 3\n")
	now := time.Now()
	p.now = func() time.Time { return now }
	fake.ResetStats()
	detailCalls := func() int { return int(rs.refused.Load()) + calls(fake, pathMessageDetail) }

	one := func(id string) map[string]any {
		t.Helper()
		m := process(t, p, event(id))[0]
		require.NoError(t, m.GetError(), "on_forbidden: skip")
		return resultIn(t, m)
	}
	for _, id := range ids[:3] {
		assert.Equal(t, []string{lookupContent}, refusedOf(one(id)))
	}
	asked := detailCalls()
	require.Equal(t, 3+1, asked, "one detail call per message while the lookup is open, and the probe after the first refusal")
	for _, id := range ids[3:6] {
		assert.Equal(t, []string{lookupContent}, refusedOf(one(id)), "answered from the closed gate")
	}
	assert.Equal(t, asked, detailCalls(), "a closed lookup makes no call")
	assert.Equal(t, 6, calls(fake, pathSearch), "tracking is still asked")

	now = now.Add(forbiddenRecheck + time.Second)
	rs.all.Store(false) // the permission was granted
	res := one(ids[6])
	assert.Empty(t, refusedOf(res), "asked again after the recheck interval, and answered")
	assert.Greater(t, detailCalls(), asked)
	asked = detailCalls()
	one(ids[7])
	assert.Greater(t, detailCalls(), asked, "reopened by the success")
}

// Refusals of one message again and again are one message: they do not close the lookup.
func TestEnrichRepeatedRefusalsOfOneMessageDoNotCloseTheLookup(t *testing.T) {
	rs := &refuseSome{path: pathMessageDetail, refuse: func(string) bool { return false }, probeOK: true}
	_, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, rs.wrap)
	ids := threatMessageIDs(t, url, 4)
	p := newEnrich(t, url, "lookups: [tracking, content]\nforbidden_threshold: 2\n")
	rs.all.Store(true)
	for range 4 {
		assert.Equal(t, []string{lookupContent}, refusedOf(resultIn(t, process(t, p, event(ids[0]))[0])))
	}
	rs.all.Store(false)
	before := rs.refused.Load()
	assert.Empty(t, refusedOf(resultIn(t, process(t, p, event(ids[1]))[0])), "the lookup is still open for another message")
	assert.Equal(t, before, rs.refused.Load())
}

// A lookup that fails for another reason than a refusal, after the client's retries, is
// reported on that message's events, which keep what the other lookups found; nothing of it is
// cached.
func TestEnrichFailedMessageInfoKeepsTheTrackingAndFlagsOnlyThatMessage(t *testing.T) {
	rs := &refuseSome{path: pathMessageInfo, status: http.StatusInternalServerError, refuse: everyThird}
	_, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, rs.wrap)
	ids := threatMessageIDs(t, url, 20)
	p := newEnrich(t, url, "max_retries: 1\ncache: "+testCache+"\n")
	flagged, clean := 0, 0
	for i, m := range process(t, p, eventsOf(ids)...) {
		res := resultIn(t, m)
		assert.NotEmpty(t, res[lookupTracking], "tracking is kept")
		var getErr error
		require.NoError(t, p.mgr.AccessCache(t.Context(), testCache, func(c service.Cache) { _, getErr = c.Get(t.Context(), p.cacheKey(ids[i])) }))
		if m.GetError() != nil {
			flagged++
			assert.Contains(t, m.GetError().Error(), "the message_info lookup of message")
			assert.ErrorIs(t, getErr, service.ErrKeyNotFound, "a failed lookup is not cached")
			continue
		}
		clean++
		assert.NoError(t, getErr, "a full answer is cached")
	}
	assert.Positive(t, flagged)
	assert.Positive(t, clean, "the failure of one id's message info is that id's only")
}

// found: false is cached for negative_cache_ttl, a refusal for refused_cache_ttl, a result for
// cache_ttl, and a cached refusal is still a refusal under on_forbidden: fail.
func TestEnrichCachesEachKindOfResultForItsOwnTime(t *testing.T) {
	rs := &refuseSome{path: pathMessageDetail, refuse: func(string) bool { return false }, probeOK: true}
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, rs.wrap)
	ids := threatMessageIDs(t, url, 2)
	fake.ResetStats()
	cache, produce, received := runWithClockCache(t, url, "cache: lookups\ncache_ttl: 10m\nnegative_cache_ttl: 30s\nrefused_cache_ttl: 20s\nlookups: [tracking, content]\nforbidden_threshold: 1000\non_forbidden: fail\n")
	send := func(id string) {
		t.Helper()
		require.NoError(t, produce(t.Context(), service.MessageBatch{event(id)}))
	}
	searches := func() int { return calls(fake, pathSearch) }

	unknown := "<never-sent@example.com>"
	send(unknown)
	send(unknown)
	assert.Equal(t, 1, searches(), "a message not found is cached")
	cache.advance(31 * time.Second)
	send(unknown)
	assert.Equal(t, 2, searches(), "for negative_cache_ttl only: indexing may catch up")

	rs.all.Store(true)
	send(ids[0])
	send(ids[0])
	assert.Equal(t, 3, searches(), "a result with a refused lookup is cached")
	cache.advance(21 * time.Second)
	rs.all.Store(false)
	send(ids[0])
	assert.Equal(t, 4, searches(), "for refused_cache_ttl only: a refusal may be lifted")
	send(ids[1])
	cache.advance(9 * time.Minute)
	send(ids[1])
	assert.Equal(t, 5, searches(), "a full result is cached for cache_ttl")

	cache.mu.Lock()
	assert.Equal(t, []time.Duration{30 * time.Second, 30 * time.Second, 20 * time.Second, 10 * time.Minute, 10 * time.Minute}, cache.ttls)
	cache.mu.Unlock()
	msgs := received()
	require.Len(t, msgs, 8)
	for i, m := range msgs[3:5] {
		var fe *forbiddenError
		require.ErrorAs(t, m.GetError(), &fe, "refused event %d, the second from the cache", i)
		assert.Equal(t, lookupContent, fe.lookup)
		assert.Equal(t, []string{lookupContent}, refusedOf(resultIn(t, m)))
	}
}

// Errors are never cached as content: a detail call that keeps failing is not read as "no such
// message" (no archive search in its place), and a body part refused with 401 after the token
// was refreshed is not an empty body.
func TestEnrichContentErrorsAreReportedNotCachedAsEmpty(t *testing.T) {
	cases := []struct {
		name string
		rs   *refuseSome
	}{
		{"detail keeps failing", &refuseSome{path: pathMessageDetail, status: http.StatusInternalServerError}},
		{"body part refused after the token refresh", &refuseSome{path: "/api/archive/get-message-part", status: http.StatusUnauthorized,
			body: `{"meta":{"status":401},"data":[],"fail":[{"errors":[{"code":"token_expired","message":"The token has expired","retryable":false}]}]}`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.rs.refuse = func(string) bool { return true }
			fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, tc.rs.wrap)
			ids := threatMessageIDs(t, url, 20)
			fake.ResetStats()
			p := newEnrich(t, url, "max_retries: 1\nlookups: [tracking, content]\ncache: "+testCache+"\n")
			flagged := 0
			for i, m := range process(t, p, eventsOf(ids)...) {
				res := resultIn(t, m)
				assert.NotEmpty(t, res[lookupTracking])
				if m.GetError() == nil {
					assert.Nil(t, res[lookupContent], "only mail that was never archived has no content: %s", ids[i])
					continue
				}
				flagged++
				assert.Contains(t, m.GetError().Error(), "the content lookup of message")
				assert.NotContains(t, res, lookupContent, "no empty content stands in for the error")
				var getErr error
				require.NoError(t, p.mgr.AccessCache(t.Context(), testCache, func(c service.Cache) { _, getErr = c.Get(t.Context(), p.cacheKey(ids[i])) }))
				assert.ErrorIs(t, getErr, service.ErrKeyNotFound, "a failed lookup is not cached")
			}
			assert.Positive(t, flagged)
			assert.Positive(t, tc.rs.refused.Load())
			if tc.rs.path == pathMessageDetail {
				assert.Zero(t, calls(fake, "/api/archive/search"), "a failing detail call is not taken for an unknown id")
			}
		})
	}
}

// An application without the permission is refused by the permission probe too: the first
// refusal closes the lookup for everyone.
func TestEnrichRefusedPermissionProbeClosesTheLookupAtTheFirstRefusal(t *testing.T) {
	rs := &refuseSome{path: pathMessageDetail, refuse: func(string) bool { return false }}
	_, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, rs.wrap)
	ids := threatMessageIDs(t, url, 6)
	p := newEnrich(t, url, "lookups: [tracking, content]\n")
	rs.all.Store(true)
	for _, id := range ids {
		assert.Equal(t, []string{lookupContent}, refusedOf(resultIn(t, process(t, p, event(id))[0])))
	}
	assert.Equal(t, int32(2), rs.refused.Load(), "the first message and the probe; then no more calls")
}
