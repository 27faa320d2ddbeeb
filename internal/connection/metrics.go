package connection

import (
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// metrics adapts Benthos metrics to mimecast.Metrics. Labels hold endpoint paths and status codes
// only, never anything from a credential.
type metrics struct {
	calls       *service.MetricCounter
	latency     *service.MetricTimer
	rateLimited *service.MetricCounter
	retries     *service.MetricCounter
}

func newMetrics(m *service.Metrics) *metrics {
	return &metrics{
		calls:       m.NewCounter("mimecast_api_calls", "endpoint", "status"),
		latency:     m.NewTimer("mimecast_api_call_duration_ns", "endpoint"),
		rateLimited: m.NewCounter("mimecast_api_rate_limited", "endpoint"),
		retries:     m.NewCounter("mimecast_api_retries", "endpoint", "reason"),
	}
}

func (m *metrics) Call(endpoint, status string, d time.Duration) {
	m.calls.Incr(1, endpoint, status)
	m.latency.Timing(d.Nanoseconds(), endpoint)
}

func (m *metrics) RateLimited(endpoint string) { m.rateLimited.Incr(1, endpoint) }

func (m *metrics) Retry(endpoint, reason string) { m.retries.Incr(1, endpoint, reason) }

// zeroReasons are the retry reasons whose series exist from the start: those of a rate limit,
// a network failure and a timeout, which any endpoint can meet.
var zeroReasons = []string{"rate_limited", "network", "timeout"}

// ZeroSeries makes the client's error series of the calls the component of conf makes (as
// endpoints lists them) exist at zero from the start: mimecast_api_rate_limited, and
// mimecast_api_retries for the common reasons, so that an alert on them can be written and
// tested before the first error.
func ZeroSeries(conf *service.ParsedConfig, mgr *service.Resources, endpoints func(*service.ParsedConfig) ([]mimecast.Call, error)) error {
	calls, err := endpoints(conf)
	if err != nil || mgr == nil {
		return err
	}
	m := newMetrics(mgr.Metrics())
	for _, c := range calls {
		m.rateLimited.Incr(0, c.Endpoint)
		for _, reason := range zeroReasons {
			m.retries.Incr(0, c.Endpoint, reason)
		}
	}
	return nil
}
