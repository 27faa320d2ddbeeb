package threats

import "github.com/redpanda-data/benthos/v4/public/service"

// threatsMetrics are the per-feed counters of mimecast_threats (labels: feed, or source for lag).
type threatsMetrics struct {
	emitted          *service.MetricCounter
	filtered         *service.MetricCounter
	duplicates       *service.MetricCounter
	decodeErrors     *service.MetricCounter
	filterErrors     *service.MetricCounter
	fetchErrors      *service.MetricCounter
	paginationCycles *service.MetricCounter
	checkpointErrors *service.MetricCounter
	contentForbidden *service.MetricCounter
	contentErrors    *service.MetricCounter
	lag              *service.MetricGauge
}

func newThreatsMetrics(m *service.Metrics) threatsMetrics {
	return threatsMetrics{
		emitted:          m.NewCounter("mimecast_threats_emitted", "feed"),
		filtered:         m.NewCounter("mimecast_threats_filtered", "feed"),
		duplicates:       m.NewCounter("mimecast_threats_duplicates", "feed"),
		decodeErrors:     m.NewCounter("mimecast_threats_decode_errors", "feed"),
		filterErrors:     m.NewCounter("mimecast_threats_filter_errors", "feed"),
		fetchErrors:      m.NewCounter("mimecast_threats_fetch_errors", "feed"),
		paginationCycles: m.NewCounter("mimecast_threats_pagination_cycles", "feed"),
		checkpointErrors: m.NewCounter("mimecast_threats_checkpoint_errors", "feed"),
		contentForbidden: m.NewCounter("mimecast_threats_content_forbidden"),
		contentErrors:    m.NewCounter("mimecast_threats_content_errors"),
		lag:              m.NewGauge("mimecast_threats_checkpoint_lag_ms", "source"),
	}
}
