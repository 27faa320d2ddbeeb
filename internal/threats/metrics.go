package threats

import "github.com/redpanda-data/benthos/v4/public/service"

// threatsMetrics are the per-feed counters of mimecast_threats (label feed; the gauges also
// source, one feed's SIEM event types being sources of their own).
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
	lag              *service.MetricGauge // seconds
	authFailing      *service.MetricGauge // 1 while Mimecast refuses the credentials
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
		lag:              m.NewGauge("mimecast_threats_checkpoint_lag_seconds", "feed", "source"),
		authFailing:      m.NewGauge("mimecast_threats_auth_failing", "feed", "source"),
	}
}

// register makes every per-feed series of feed exist from the start, at zero, so that an
// alert on an error counter can be written and tested before the first error.
func (m threatsMetrics) register(feed, source string) {
	for _, c := range []*service.MetricCounter{m.emitted, m.filtered, m.duplicates, m.decodeErrors, m.filterErrors, m.fetchErrors, m.paginationCycles, m.checkpointErrors} {
		c.Incr(0, feed)
	}
	m.authFailing.Set(0, feed, source)
}
