package enrich

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

func TestEnrichAddsTrackingAndMessageInfoOfAKnownMessage(t *testing.T) {
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	id := threatMessageIDs(t, url, 1)[0]
	p := newEnrich(t, url, "")
	fake.ResetStats()

	res := resultOf(t, process(t, p, event(id))[0])

	assert.Equal(t, true, res["found"])
	assert.Equal(t, id, res["message_id"])
	assert.NotEmpty(t, res["looked_up_at"])
	tracking, ok := res["tracking"].([]any)
	require.True(t, ok, "tracking is a list")
	require.Len(t, tracking, 1)
	hit := tracking[0].(map[string]any)
	assert.NotEmpty(t, hit["id"])
	assert.NotEmpty(t, hit["status"])
	infos, ok := res["message_info"].([]any)
	require.True(t, ok, "message_info is a list")
	require.Len(t, infos, 1)
	info := infos[0].(map[string]any)
	assert.Equal(t, hit["id"], info["id"], "message_info follows the tracking hits")
	assert.Contains(t, info, "spamInfo")
	assert.NotContains(t, res, "content", "content was not asked for")
	assert.Equal(t, 1, calls(fake, pathSearch))
	assert.Equal(t, 1, calls(fake, pathMessageInfo))
}

func TestEnrichKeepsTheEventBodyAndAcceptsIDsWithoutBrackets(t *testing.T) {
	_, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	id := threatMessageIDs(t, url, 1)[0]
	p := newEnrich(t, url, "target_field: enrichment.mimecast\nlookups: [tracking]\n")
	m := service.NewMessage([]byte(`{"alert":"threat","enrichment":{"other":1}}`))
	m.MetaSetMut("mimecast_message_id", id[1:len(id)-1])

	out := process(t, p, m)[0]

	require.NoError(t, out.GetError())
	body, err := out.AsStructured()
	require.NoError(t, err)
	obj := body.(map[string]any)
	assert.Equal(t, "threat", obj["alert"])
	enrichment := obj["enrichment"].(map[string]any)
	assert.Equal(t, json.Number("1"), enrichment["other"])
	res := enrichment["mimecast"].(map[string]any)
	assert.Equal(t, true, res["found"])
	assert.Equal(t, id, res["message_id"], "the id is looked up in angle brackets")
	assert.NotContains(t, res, "message_info")
}

func TestEnrichMarksAMessageMimecastDoesNotKnowNotFound(t *testing.T) {
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	p := newEnrich(t, url, "lookups: [tracking, message_info, content]\n")

	res := resultOf(t, process(t, p, event("<no-such-message@example.com>"))[0])

	assert.Equal(t, map[string]any{"found": false, "message_id": "<no-such-message@example.com>", "looked_up_at": res["looked_up_at"]}, res)
	assert.Equal(t, 1, calls(fake, pathSearch))
	assert.Zero(t, calls(fake, pathMessageInfo), "no hit, nothing to ask get-message-info about")
	assert.Zero(t, calls(fake, "/api/archive/get-message-detail"), "no hit, no content lookup")
}

func TestEnrichPassesEventsWithoutMessageIDThroughUntouched(t *testing.T) {
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	p := newEnrich(t, url, "")
	blank := event("")
	blank.MetaSetMut("mimecast_message_id", "   ")

	out := process(t, p, event(""), blank)

	for _, m := range out {
		require.NoError(t, m.GetError())
		b, err := m.AsBytes()
		require.NoError(t, err)
		assert.JSONEq(t, `{"alert":"threat"}`, string(b))
	}
	assert.Empty(t, fake.Stats().Calls, "nothing was asked")
}

func TestEnrichCacheHitAvoidsASecondLookup(t *testing.T) {
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	id := threatMessageIDs(t, url, 1)[0]
	p := newEnrich(t, url, "cache: "+testCache+"\ncache_ttl: 10m\n")
	fake.ResetStats()

	first := resultOf(t, process(t, p, event(id))[0])
	second := resultOf(t, process(t, p, event(id))[0])

	assert.Equal(t, first, second, "the cached result is the looked-up result")
	assert.Equal(t, 1, calls(fake, pathSearch))
	assert.Equal(t, 1, calls(fake, pathMessageInfo))
}

func TestEnrichCachesNotFoundButNotErrors(t *testing.T) {
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	p := newEnrich(t, url, "cache: "+testCache+"\nmax_retries: 0\n")

	resultOf(t, process(t, p, event("<unknown@example.com>"))[0])
	resultOf(t, process(t, p, event("<unknown@example.com>"))[0])
	assert.Equal(t, 1, calls(fake, pathSearch), "found: false is cached")

	fake.SetFaults(mimecastfake.Faults{ServerErrors: 1})
	require.Error(t, process(t, p, event("<other@example.com>"))[0].GetError())
	resultOf(t, process(t, p, event("<other@example.com>"))[0])
	assert.Equal(t, 3, calls(fake, pathSearch), "the failed lookup was not cached")
}

func TestEnrichLooksUpTheSameIDOnceInABatch(t *testing.T) {
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	ids := threatMessageIDs(t, url, 2)
	p := newEnrich(t, url, "")
	fake.ResetStats()

	out := process(t, p, event(ids[0]), event(ids[1]), event(ids[0]), event(ids[0]))

	for i, m := range out {
		res := resultOf(t, m)
		assert.Equal(t, []string{ids[0], ids[1], ids[0], ids[0]}[i], res["message_id"])
		assert.Equal(t, true, res["found"])
	}
	assert.Equal(t, 2, calls(fake, pathSearch))
	// Each message has its own copy of the result.
	body, err := out[0].AsStructuredMut()
	require.NoError(t, err)
	body.(map[string]any)["mimecast"].(map[string]any)["found"] = "changed"
	assert.Equal(t, true, resultOf(t, out[2])["found"])
}

func TestEnrichMergesLookupsOfConcurrentBatches(t *testing.T) {
	release := make(chan struct{})
	hold := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == pathSearch {
				<-release
			}
			next.ServeHTTP(w, r)
		})
	}
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, hold)
	id := "<unknown@example.com>"
	p := newEnrich(t, url, "")

	const batches = 4
	results := make([]service.MessageBatch, batches)
	var wg sync.WaitGroup
	for i := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := p.ProcessBatch(t.Context(), service.MessageBatch{event(id)})
			if err == nil {
				results[i] = out[0]
			}
		}()
	}
	waitUntil(t, 5*time.Second, "every batch to join the first one's lookup", func() bool { return p.flights.waiting(id) == batches-1 })
	close(release)
	wg.Wait()

	for _, b := range results {
		require.Len(t, b, 1)
		assert.Equal(t, false, resultOf(t, b[0])["found"])
	}
	assert.Equal(t, 1, calls(fake, pathSearch))
}

func TestEnrichRespectsMaxConcurrency(t *testing.T) {
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	ids := threatMessageIDs(t, url, 6)
	p := newEnrich(t, url, "max_concurrency: 2\nlookups: [tracking]\n")
	fake.ResetStats()
	fake.SetFaults(mimecastfake.Faults{SlowResponses: len(ids), SlowBy: 40 * time.Millisecond})

	msgs := make([]*service.Message, len(ids))
	for i, id := range ids {
		msgs[i] = event(id)
	}
	for _, m := range process(t, p, msgs...) {
		assert.Equal(t, true, resultOf(t, m)["found"])
	}

	assert.Equal(t, len(ids), calls(fake, pathSearch))
	assert.Equal(t, 2, fake.Stats().MaxConcurrent, "two lookups at a time, and not fewer")
}

func TestEnrichAPIErrorFlagsTheMessageAndLeavesItUnchanged(t *testing.T) {
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	id := threatMessageIDs(t, url, 1)[0]
	p := newEnrich(t, url, "max_retries: 0\n")
	fake.SetFaults(mimecastfake.Faults{ServerErrors: 1})

	m := process(t, p, event(id), event(""))

	err := m[0].GetError()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mimecast_enrich: looking up message "+id)
	assert.Contains(t, err.Error(), pathSearch)
	b, _ := m[0].AsBytes()
	assert.JSONEq(t, `{"alert":"threat"}`, string(b))
	assert.NoError(t, m[1].GetError(), "other messages of the batch are not affected")
}

// withoutProducts is a tenant whose one client app lacks the given products.
func withoutProducts(drop ...string) mimecastfake.Options {
	var products []string
	for _, p := range mimecastfake.AllProducts {
		keep := true
		for _, d := range drop {
			keep = keep && p != d
		}
		if keep {
			products = append(products, p)
		}
	}
	return mimecastfake.Options{Seed: 1, Clients: []mimecastfake.ClientApp{{ID: "limited", Secret: "limited-secret", Products: products}}}
}

// Without Message Finder every lookup is refused: each event says so in refused (it is not a
// "not found"), and as the permission probe is refused too, the first refusal closes the
// lookup for everyone until the recheck interval.
func TestEnrichForbiddenSkipSaysWhatWasRefusedAndClosesWhenTheProbeIsRefused(t *testing.T) {
	fake, url := fakeTenant(t, withoutProducts(mimecastfake.ProductTracking), nil)
	p := newEnrichAs(t, connYAML(url, "limited", "limited-secret")+"on_forbidden: skip\n")
	now := time.Now()
	p.now = func() time.Time { return now }

	for _, batch := range [][]string{{"<a@example.com>"}, {"<a@example.com>", "<b@example.com>"}, {"<c@example.com>"}, {"<d@example.com>"}} {
		for _, m := range process(t, p, eventsOf(batch)...) {
			require.NoError(t, m.GetError())
			res := resultIn(t, m)
			assert.Equal(t, false, res["found"])
			assert.Equal(t, []string{lookupTracking, lookupMessageInfo}, refusedOf(res))
		}
	}
	assert.Equal(t, 2, fake.Stats().EndpointStatuses[pathSearch][403],
		"a and the permission probe were asked; the probe's refusal closed the lookup, so no other id was")

	now = now.Add(forbiddenRecheck + time.Second)
	process(t, p, event("<a@example.com>"))
	assert.Equal(t, 4, fake.Stats().EndpointStatuses[pathSearch][403], "asked again after the recheck interval, and probed")
}

func TestEnrichForbiddenFailFlagsTheEventNamingThePermission(t *testing.T) {
	_, url := fakeTenant(t, withoutProducts(mimecastfake.ProductTracking), nil)
	p := newEnrichAs(t, connYAML(url, "limited", "limited-secret")+"on_forbidden: fail\n")

	for range 2 { // the second answer comes from the remembered refusal
		m := process(t, p, event("<a@example.com>"))[0]
		err := m.GetError()
		require.Error(t, err)
		var fe *forbiddenError
		require.True(t, errors.As(err, &fe))
		assert.Equal(t, lookupTracking, fe.lookup)
		assert.Contains(t, err.Error(), "Gateway | Tracking | Read")
		assert.Contains(t, err.Error(), "403")
	}
}

func TestEnrichContentForbiddenSkipKeepsTheTracking(t *testing.T) {
	_, url := fakeTenant(t, withoutProducts(mimecastfake.ProductContentView), nil)
	ids := threatMessageIDsAs(t, url, "limited", "limited-secret", 20)
	p := newEnrichAs(t, connYAML(url, "limited", "limited-secret")+"lookups: [tracking, content]\ncache: "+testCache+"\n")

	refused := 0
	for _, id := range ids {
		res := resultOf(t, process(t, p, event(id))[0])
		assert.Equal(t, true, res["found"])
		assert.NotEmpty(t, res["tracking"])
		if c, ok := res["content"]; ok {
			assert.Nil(t, c, "mail that was never archived needs no Content View")
			continue
		}
		refused++ // absent, not null: the lookup was refused
		assert.Equal(t, []string{lookupContent}, refusedOf(res), "and the result says so")
		var cached []byte
		require.NoError(t, p.mgr.AccessCache(t.Context(), testCache, func(c service.Cache) { cached, _ = c.Get(t.Context(), p.cacheKey(id)) }))
		assert.Contains(t, string(cached), `"refused":["content"]`, "the refusal is cached (for refused_cache_ttl) as it was answered")
	}
	assert.Positive(t, refused, "archived threat mail needs Content View")
}

func TestEnrichAddsArchivedContent(t *testing.T) {
	_, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	ids := threatMessageIDs(t, url, 20)
	p := newEnrich(t, url, "lookups: [tracking, content]\n")

	var archived, notArchived int
	for _, id := range ids {
		res := resultOf(t, process(t, p, event(id))[0])
		require.Equal(t, true, res["found"])
		require.Contains(t, res, "content")
		if c, ok := res["content"].(map[string]any); ok {
			archived++
			assert.Equal(t, id, c["message_id"])
			assert.NotEmpty(t, c["headers"])
		} else {
			notArchived++
			assert.Nil(t, res["content"], "known but not archived is null")
		}
	}
	assert.Positive(t, archived, "some threat mail was delivered and archived")
	assert.Positive(t, notArchived, "some threat mail was held or rejected, never archived")
}

func TestEnrichFlagsABodyThatIsNotAJSONObjectWithoutAskingMimecast(t *testing.T) {
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	p := newEnrich(t, url, "")
	text := service.NewMessage([]byte("not json"))
	text.MetaSetMut("mimecast_message_id", "<a@example.com>")
	list := service.NewMessage([]byte(`[1,2]`))
	list.MetaSetMut("mimecast_message_id", "<a@example.com>")

	out := process(t, p, text, list)

	require.Error(t, out[0].GetError())
	assert.Contains(t, out[0].GetError().Error(), "the message body is not JSON")
	require.Error(t, out[1].GetError())
	assert.Contains(t, out[1].GetError().Error(), "the message body is a JSON array, not an object")
	assert.Empty(t, fake.Stats().Calls)
}

func TestEnrichContentOnlyLookupRefusedSaysSo(t *testing.T) {
	_, url := fakeTenant(t, withoutProducts(mimecastfake.ProductContentView), nil)
	ids := threatMessageIDsAs(t, url, "limited", "limited-secret", 20)
	p := newEnrichAs(t, connYAML(url, "limited", "limited-secret")+"lookups: [content]\nforbidden_threshold: 1000\n")

	refused := 0
	for _, id := range ids {
		m := process(t, p, event(id))[0]
		require.NoError(t, m.GetError())
		res := resultIn(t, m)
		if slices.Contains(refusedOf(res), lookupContent) {
			refused++
			assert.NotContains(t, res, lookupContent)
			continue
		}
		assert.Equal(t, false, res["found"], "with content alone, found means found in the archive")
	}
	assert.Positive(t, refused, "archived mail needs Content View, and the result says it was refused")
}
