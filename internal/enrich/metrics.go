package enrich

import "github.com/redpanda-data/benthos/v4/public/service"

// enrichMetrics are the counters of mimecast_enrich. lookups, cache_hits, cache_misses and
// merged count message ids; the others count events.
type enrichMetrics struct {
	lookups     *service.MetricCounter // ids resolved by calling Mimecast
	cacheHits   *service.MetricCounter
	cacheMisses *service.MetricCounter
	cacheErrors *service.MetricCounter // failed cache reads and writes (not fatal)
	merged      *service.MetricCounter // events that shared another event's lookup
	enriched    *service.MetricCounter
	notFound    *service.MetricCounter
	noID        *service.MetricCounter
	errors      *service.MetricCounter
	forbidden   *service.MetricCounter // label lookup: tracking, message_info or content
}

func newEnrichMetrics(m *service.Metrics) enrichMetrics {
	return enrichMetrics{
		lookups:     m.NewCounter("mimecast_enrich_lookups"),
		cacheHits:   m.NewCounter("mimecast_enrich_cache_hits"),
		cacheMisses: m.NewCounter("mimecast_enrich_cache_misses"),
		cacheErrors: m.NewCounter("mimecast_enrich_cache_errors"),
		merged:      m.NewCounter("mimecast_enrich_merged"),
		enriched:    m.NewCounter("mimecast_enrich_enriched"),
		notFound:    m.NewCounter("mimecast_enrich_not_found"),
		noID:        m.NewCounter("mimecast_enrich_no_message_id"),
		errors:      m.NewCounter("mimecast_enrich_errors"),
		forbidden:   m.NewCounter("mimecast_enrich_forbidden", "lookup"),
	}
}
