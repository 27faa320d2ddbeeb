package enrich

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// enrichStream describes a stream of producer -> processor -> consumer.
type enrichStream struct {
	threads   int
	resources string // resources YAML
	metrics   string // metrics YAML
	processor string
}

// runEnrichStream builds and runs the stream on env and returns the producer and what the
// consumer received.
func runEnrichStream(t *testing.T, env *service.Environment, spec enrichStream) (service.MessageBatchHandlerFunc, func() []*service.Message) {
	t.Helper()
	b := env.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML(`level: none`))
	b.SetThreads(max(spec.threads, 1))
	if spec.resources != "" {
		require.NoError(t, b.AddResourcesYAML(spec.resources))
	}
	if spec.metrics != "" {
		require.NoError(t, b.SetMetricsYAML(spec.metrics))
	}
	require.NoError(t, b.AddProcessorYAML(spec.processor))
	produce, err := b.AddBatchProducerFunc()
	require.NoError(t, err)
	var (
		mu  sync.Mutex
		got []*service.Message
	)
	require.NoError(t, b.AddConsumerFunc(func(_ context.Context, m *service.Message) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m)
		return nil
	}))
	s, err := b.Build()
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(context.Background())
	}()
	t.Cleanup(func() {
		require.NoError(t, s.StopWithin(5*time.Second))
		<-done
	})
	return produce, func() []*service.Message {
		mu.Lock()
		defer mu.Unlock()
		return append([]*service.Message(nil), got...)
	}
}

// memoryCache is a memory cache resource named lookups.
const memoryCache = "cache_resources:\n  - label: lookups\n    memory: {}\n"

func enrichProcessorYAML(url, extra string) string {
	return "mimecast_enrich:\n" + indent(connYAML(url, mimecastfake.DefaultClientID, mimecastfake.DefaultClientSecret)+extra)
}

func TestEnrichInAMultiThreadedPipelineLooksUpEachIDOnce(t *testing.T) {
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	ids := threatMessageIDs(t, url, 5)
	fake.ResetStats()
	produce, received := runEnrichStream(t, service.NewEnvironment(), enrichStream{
		threads:   4,
		resources: memoryCache,
		processor: enrichProcessorYAML(url, "cache: lookups\nmax_concurrency: 3\n"),
	})

	const producers, perBatch = 8, 10
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make(service.MessageBatch, perBatch)
			for i := range batch {
				batch[i] = event(ids[(p+i)%len(ids)])
			}
			assert.NoError(t, produce(t.Context(), batch))
		}()
	}
	wg.Wait()

	msgs := received()
	require.Len(t, msgs, producers*perBatch)
	for _, m := range msgs {
		id, _ := m.MetaGetMut("mimecast_message_id")
		res := resultOf(t, m)
		assert.Equal(t, id, res["message_id"])
		assert.Equal(t, true, res["found"])
	}
	assert.Equal(t, len(ids), calls(fake, pathSearch), "one Message Finder search per id, whatever the thread")
	assert.Equal(t, len(ids), calls(fake, pathMessageInfo))
}

// clockCache is a cache that honours TTLs on a clock the test moves, and records them.
type clockCache struct {
	mu    sync.Mutex
	now   time.Time
	items map[string]clockItem
	ttls  []time.Duration
}

type clockItem struct {
	value   []byte
	expires time.Time
}

func (c *clockCache) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *clockCache) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[key]
	if !ok || !c.now.Before(it.expires) {
		return nil, service.ErrKeyNotFound
	}
	return it.value, nil
}

func (c *clockCache) Set(_ context.Context, key string, value []byte, ttl *time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := time.Hour
	if ttl != nil {
		d = *ttl
	}
	c.ttls = append(c.ttls, d)
	c.items[key] = clockItem{value: value, expires: c.now.Add(d)}
	return nil
}

func (c *clockCache) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	return c.Set(ctx, key, value, ttl)
}

func (c *clockCache) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, key)
	return nil
}

func (*clockCache) Close(context.Context) error { return nil }

// runWithClockCache runs a stream of mimecast_enrich for the fake at url with the processor
// fields extra, its results in a clockCache resource named lookups.
func runWithClockCache(t *testing.T, url, extra string) (*clockCache, service.MessageBatchHandlerFunc, func() []*service.Message) {
	t.Helper()
	cache := &clockCache{now: time.Now(), items: map[string]clockItem{}}
	env := service.NewEnvironment()
	require.NoError(t, env.RegisterCache("test_clock_cache", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Cache, error) { return cache, nil }))
	produce, received := runEnrichStream(t, env, enrichStream{
		resources: "cache_resources:\n  - label: lookups\n    test_clock_cache: {}\n",
		processor: enrichProcessorYAML(url, extra),
	})
	return cache, produce, received
}

func TestEnrichLooksUpAgainOnceTheCacheTTLHasPassed(t *testing.T) {
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	id := threatMessageIDs(t, url, 1)[0]
	fake.ResetStats()
	cache, produce, received := runWithClockCache(t, url, "cache: lookups\ncache_ttl: 10m\nlookups: [tracking]\n")

	send := func() {
		t.Helper()
		require.NoError(t, produce(t.Context(), service.MessageBatch{event(id)}))
	}
	send()
	cache.advance(9 * time.Minute)
	send()
	assert.Equal(t, 1, calls(fake, pathSearch), "within the TTL the cached result is used")
	cache.advance(2 * time.Minute)
	send()
	assert.Equal(t, 2, calls(fake, pathSearch), "past the TTL Mimecast is asked again")

	msgs := received()
	require.Len(t, msgs, 3)
	first, last := resultOf(t, msgs[0]), resultOf(t, msgs[2])
	assert.Equal(t, first["looked_up_at"], resultOf(t, msgs[1])["looked_up_at"], "served from the cache")
	assert.NotEqual(t, first["looked_up_at"], last["looked_up_at"], "looked up afresh")
	cache.mu.Lock()
	assert.Equal(t, []time.Duration{10 * time.Minute, 10 * time.Minute}, cache.ttls)
	cache.mu.Unlock()
}

func TestEnrichWaitsOnTheRateLimitResourceBeforeEveryCall(t *testing.T) {
	fake, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	id := threatMessageIDs(t, url, 1)[0]
	var accesses atomic.Int32
	mgr := service.MockResources(service.MockResourcesOptAddRateLimit("mimecast_quota", func(context.Context) (time.Duration, error) {
		accesses.Add(1)
		return 0, nil
	}))
	conf, err := Spec().ParseYAML(connYAML(url, mimecastfake.DefaultClientID, mimecastfake.DefaultClientSecret)+"rate_limit: mimecast_quota\n", nil)
	require.NoError(t, err)
	cfg, err := enrichConfigFromParsed(conf, mgr)
	require.NoError(t, err)
	p := newEnrichProcessor(cfg, mgr)
	t.Cleanup(func() { require.NoError(t, p.Close(context.Background())) })
	fake.ResetStats()

	res := resultOf(t, process(t, p, event(id))[0])

	assert.Equal(t, true, res["found"])
	assert.Equal(t, int32(calls(fake, pathSearch)+calls(fake, pathMessageInfo)), accesses.Load())
}

// TestEnrichResultLayoutMatchesTheDocumentedExample keeps the spec's example honest: every key
// the description shows at the top of the result and of its parts is produced.
func TestEnrichResultLayoutMatchesTheDocumentedExample(t *testing.T) {
	_, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	ids := threatMessageIDs(t, url, 20)
	p := newEnrich(t, url, "lookups: [tracking, message_info, content]\n")
	var res map[string]any
	for _, id := range ids {
		if r := resultOf(t, process(t, p, event(id))[0]); r["content"] != nil {
			res = r
			break
		}
	}
	require.NotNil(t, res, "an archived threat message")
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(documentedResult(t)), &doc))
	docRes := doc["mimecast"].(map[string]any)
	assert.ElementsMatch(t, keys(docRes), keys(res))
	for _, part := range []string{"tracking", "message_info"} {
		got := res[part].([]any)[0].(map[string]any)
		for _, k := range keys(docRes[part].([]any)[0].(map[string]any)) {
			assert.Contains(t, got, k, fmt.Sprintf("%s.%s", part, k))
		}
	}
	content := res["content"].(map[string]any)
	for _, k := range keys(docRes["content"].(map[string]any)) {
		if k == "html" || k == "truncated" || k == "attachments" {
			continue // omitted when empty
		}
		assert.Contains(t, content, k, "content."+k)
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// documentedResult is the JSON example of the spec's description.
func documentedResult(t *testing.T) string {
	t.Helper()
	const open, closing = "```json\n", "\n```"
	start := strings.Index(enrichDescription, open)
	require.GreaterOrEqual(t, start, 0)
	rest := enrichDescription[start+len(open):]
	end := strings.Index(rest, closing)
	require.GreaterOrEqual(t, end, 0)
	return rest[:end]
}
