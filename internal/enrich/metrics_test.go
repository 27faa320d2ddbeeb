package enrich

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// recordedMetrics is a metrics exporter that sums counters by name (and by the lookup label).
type recordedMetrics struct {
	mu     sync.Mutex
	counts map[string]int64
}

type recordedCounter struct {
	r   *recordedMetrics
	key string
}

func (c recordedCounter) Incr(n int64) {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.r.counts[c.key] += n
}

func (c recordedCounter) IncrFloat64(n float64) { c.Incr(int64(n)) }

type noopMetric struct{}

func (noopMetric) Timing(int64) {}
func (noopMetric) Set(int64)    {}

func (r *recordedMetrics) NewCounterCtor(name string, keys ...string) service.MetricsExporterCounterCtor {
	return func(values ...string) service.MetricsExporterCounter {
		key := name
		for i, k := range keys {
			if k == "lookup" {
				key += "{lookup=" + values[i] + "}"
			}
		}
		return recordedCounter{r: r, key: key}
	}
}

func (*recordedMetrics) NewTimerCtor(string, ...string) service.MetricsExporterTimerCtor {
	return func(...string) service.MetricsExporterTimer { return noopMetric{} }
}

func (*recordedMetrics) NewGaugeCtor(string, ...string) service.MetricsExporterGaugeCtor {
	return func(...string) service.MetricsExporterGauge { return noopMetric{} }
}

func (*recordedMetrics) Close(context.Context) error { return nil }

func (r *recordedMetrics) snapshot() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int64{}
	for k, v := range r.counts {
		if strings.HasPrefix(k, "mimecast_enrich_") {
			out[k] = v
		}
	}
	return out
}

// metricsEnv is an environment whose `recorded` metrics exporter writes to the returned recorder.
func metricsEnv(t *testing.T) (*service.Environment, *recordedMetrics) {
	t.Helper()
	rec := &recordedMetrics{counts: map[string]int64{}}
	env := service.NewEnvironment()
	require.NoError(t, env.RegisterMetricsExporter("recorded", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) { return rec, nil }))
	return env, rec
}

func TestEnrichCountsEveryOutcome(t *testing.T) {
	_, url := fakeTenant(t, mimecastfake.Options{Seed: 1}, nil)
	id := threatMessageIDs(t, url, 1)[0]
	env, rec := metricsEnv(t)
	produce, _ := runEnrichStream(t, env, enrichStream{
		resources: memoryCache,
		metrics:   "recorded: {}",
		processor: enrichProcessorYAML(url, "cache: lookups\n"),
	})
	text := service.NewMessage([]byte("not json"))
	text.MetaSetMut("mimecast_message_id", "<c@example.com>")

	require.NoError(t, produce(t.Context(), service.MessageBatch{event(id), event(id), event("<unknown@example.com>"), event(""), text}))
	require.NoError(t, produce(t.Context(), service.MessageBatch{event(id)}))

	assert.Equal(t, map[string]int64{
		"mimecast_enrich_lookups":       2, // id and unknown, once each
		"mimecast_enrich_cache_misses":  2,
		"mimecast_enrich_cache_hits":    1, // id in the second batch
		"mimecast_enrich_merged":        1, // id twice in the first batch
		"mimecast_enrich_enriched":      3,
		"mimecast_enrich_not_found":     1,
		"mimecast_enrich_no_message_id": 1,
		"mimecast_enrich_errors":        1, // the text body
	}, nonZero(rec.snapshot()))
}

func TestEnrichCountsForbiddenEventsPerLookup(t *testing.T) {
	_, url := fakeTenant(t, withoutProducts(mimecastfake.ProductTracking), nil)
	env, rec := metricsEnv(t)
	produce, received := runEnrichStream(t, env, enrichStream{
		metrics:   "recorded: {}",
		processor: "mimecast_enrich:\n" + indent(connYAML(url, "limited", "limited-secret")),
	})

	require.NoError(t, produce(t.Context(), service.MessageBatch{event("<a@example.com>"), event("<b@example.com>")}))
	require.NoError(t, produce(t.Context(), service.MessageBatch{event("<c@example.com>")}))

	require.Len(t, received(), 3)
	counts := nonZero(rec.snapshot())
	assert.Equal(t, int64(3), counts["mimecast_enrich_forbidden{lookup=tracking}"])
	assert.Zero(t, counts["mimecast_enrich_errors"], "a skipped refusal is not an error")
}

func nonZero(m map[string]int64) map[string]int64 {
	for k, v := range m {
		if v == 0 {
			delete(m, k)
		}
	}
	return m
}
