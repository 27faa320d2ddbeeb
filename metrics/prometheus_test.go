package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redpanda-data/benthos/v4/public/service"
)

func newTestExporter(t *testing.T, yaml string) *prometheusExporter {
	t.Helper()
	conf, err := prometheusSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	p, err := newPrometheusFromParsed(conf, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close(t.Context())) })
	return p
}

// scrape runs the exporter's handler the way Benthos' HTTP server does and
// returns the text exposition.
func scrape(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil))
	res := rec.Result()
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(body)
}

func TestExporterServesCounterAndLabelledCounter(t *testing.T) {
	p := newTestExporter(t, `{}`)

	p.NewCounterCtor("mimecast_threats_emitted")().Incr(2)
	calls := p.NewCounterCtor("mimecast_api_calls", "endpoint", "status")
	calls("/api/ttp/url/get-logs", "200").Incr(3)
	calls("/api/ttp/url/get-logs", "429").Incr(1)
	calls("/api/ttp/url/get-logs", "200").Incr(4)

	body := scrape(t, p.HandlerFunc())
	assert.Contains(t, body, "# TYPE mimecast_threats_emitted counter\n")
	assert.Contains(t, body, "\nmimecast_threats_emitted 2\n")
	assert.Contains(t, body, "# TYPE mimecast_api_calls counter\n")
	assert.Contains(t, body, `mimecast_api_calls{endpoint="/api/ttp/url/get-logs",status="200"} 7`+"\n")
	assert.Contains(t, body, `mimecast_api_calls{endpoint="/api/ttp/url/get-logs",status="429"} 1`+"\n")
}

func TestExporterSharesOneFamilyAcrossComponents(t *testing.T) {
	// Benthos declares input_received once per input; both must feed one family.
	p := newTestExporter(t, `{}`)
	p.NewCounterCtor("input_received", "label", "path")("a", "root.input").Incr(1)
	p.NewCounterCtor("input_received", "label", "path")("a", "root.input").Incr(2)

	assert.Contains(t, scrape(t, p.HandlerFunc()), `input_received{label="a",path="root.input"} 3`+"\n")
}

func TestExporterGaugesKeepFloatValues(t *testing.T) {
	p := newTestExporter(t, `{}`)
	lag := p.NewGaugeCtor("mimecast_threats_checkpoint_lag_seconds", "source")
	lag("siem").Set(1500)
	ratio := p.NewGaugeCtor("ratio")()
	ratio.Set(1)
	ratio.(interface{ SetFloat64(float64) }).SetFloat64(0.25)

	body := scrape(t, p.HandlerFunc())
	assert.Contains(t, body, "# TYPE mimecast_threats_checkpoint_lag_seconds gauge\n")
	assert.Contains(t, body, `mimecast_threats_checkpoint_lag_seconds{source="siem"} 1500`+"\n")
	assert.Contains(t, body, "\nratio 0.25\n")
}

func TestExporterTimersAreSecondsHistogramsByDefault(t *testing.T) {
	p := newTestExporter(t, `{}`)
	p.NewTimerCtor("mimecast_api_call_duration_ns", "endpoint")("/oauth/token").Timing(1_500_000_000)

	body := scrape(t, p.HandlerFunc())
	assert.NotContains(t, body, "_ns")
	assert.Contains(t, body, "# TYPE mimecast_api_call_duration_seconds histogram\n")
	assert.Contains(t, body, `mimecast_api_call_duration_seconds_bucket{endpoint="/oauth/token",le="1"} 0`+"\n")
	assert.Contains(t, body, `mimecast_api_call_duration_seconds_bucket{endpoint="/oauth/token",le="2.5"} 1`+"\n")
	assert.Contains(t, body, `mimecast_api_call_duration_seconds_sum{endpoint="/oauth/token"} 1.5`+"\n")
	assert.Contains(t, body, `mimecast_api_call_duration_seconds_count{endpoint="/oauth/token"} 1`+"\n")
}

func TestExporterTimersBecomeSummariesWhenConfigured(t *testing.T) {
	p := newTestExporter(t, `
use_histogram_timing: false
summary_quantiles_objectives:
  - { quantile: 0.5, error: 0.05 }
`)
	timer := p.NewTimerCtor("processor_latency_ns")()
	timer.Timing(2_000_000)
	timer.Timing(2_000_000)

	body := scrape(t, p.HandlerFunc())
	assert.Contains(t, body, "# TYPE processor_latency_seconds summary\n")
	assert.Contains(t, body, `processor_latency_seconds{quantile="0.5"} 0.002`+"\n")
	assert.Contains(t, body, "\nprocessor_latency_seconds_count 2\n")
	assert.NotContains(t, body, "_bucket")
}

func TestExporterUsesConfiguredBuckets(t *testing.T) {
	p := newTestExporter(t, `histogram_buckets: [0.1, 30]`)
	p.NewTimerCtor("fetch_ns")().Timing(5_000_000_000)

	body := scrape(t, p.HandlerFunc())
	assert.Contains(t, body, `fetch_seconds_bucket{le="0.1"} 0`+"\n")
	assert.Contains(t, body, `fetch_seconds_bucket{le="30"} 1`+"\n")
	assert.NotContains(t, body, `le="2.5"`)
}

func TestExporterPrefixesBenthosMetricsOnly(t *testing.T) {
	p := newTestExporter(t, `{prefix: mimecast, add_go_metrics: true}`)
	p.NewCounterCtor("input_received")().Incr(1)

	body := scrape(t, p.HandlerFunc())
	assert.Contains(t, body, "\nmimecast_input_received 1\n")
	assert.Contains(t, body, "# TYPE go_goroutines gauge\n")
	assert.NotContains(t, body, "mimecast_go_")
}

func TestExporterRuntimeMetricsFollowConfig(t *testing.T) {
	tests := []struct {
		yaml        string
		wantGo      bool
		wantProcess bool
	}{
		{yaml: `{}`},
		{yaml: `{add_go_metrics: true}`, wantGo: true},
		{yaml: `{add_process_metrics: true}`, wantProcess: true},
		{yaml: `{add_go_metrics: true, add_process_metrics: true}`, wantGo: true, wantProcess: true},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			body := scrape(t, newTestExporter(t, tt.yaml).HandlerFunc())
			assert.Equal(t, tt.wantGo, containsLine(body, "# TYPE go_goroutines gauge"), "go_goroutines")
			assert.Equal(t, tt.wantProcess, containsLine(body, "# TYPE process_cpu_seconds_total counter"), "process_cpu_seconds_total")
		})
	}
}

func TestExporterSanitisesNamesAndLabelKeys(t *testing.T) {
	p := newTestExporter(t, `{}`)
	p.NewCounterCtor("mimecast.api-calls:total", "http.status", "__meta")("200", "x").Incr(1)

	assert.Contains(t, scrape(t, p.HandlerFunc()), `mimecast_api_calls_total{_meta="x",http_status="200"} 1`+"\n")
}

func TestExporterDropsClashingDeclarations(t *testing.T) {
	p := newTestExporter(t, `{}`)
	p.NewCounterCtor("dup", "a")("1").Incr(5)
	p.NewGaugeCtor("dup", "a")("1").Set(99)   // different type
	p.NewCounterCtor("dup", "b")("1").Incr(7) // different labels
	p.NewCounterCtor("dup-", "a")("1").Incr(1)
	p.NewCounterCtor("dup_", "a")("1").Incr(1) // sanitises onto dup-

	body := scrape(t, p.HandlerFunc())
	assert.Contains(t, body, "# TYPE dup counter\n")
	assert.Contains(t, body, `dup{a="1"} 5`+"\n")
	assert.Contains(t, body, `dup_{a="1"} 2`+"\n")
	assert.NotContains(t, body, "99")
	assert.NotContains(t, body, `b="1"`)
}

func TestExporterIgnoresInvalidUpdatesWithoutPanicking(t *testing.T) {
	p := newTestExporter(t, `{}`)
	c := p.NewCounterCtor("c", "k")
	require.NotPanics(t, func() {
		c("v").Incr(2)
		c("v").Incr(-1)                                              // counters only go up
		c().Incr(1)                                                  // too few label values
		c("v", "extra").Incr(1)                                      // too many
		c(string([]byte{0xff})).Incr(1)                              // invalid UTF-8 value
		p.NewTimerCtor("t", "k")().Timing(1)                         // too few
		p.NewGaugeCtor("g", "k")("a", "b").Set(1)                    // too many
		c("v").(interface{ IncrFloat64(float64) }).IncrFloat64(-0.5) // negative float
	})

	body := scrape(t, p.HandlerFunc())
	assert.Contains(t, body, `c{k="v"} 2`+"\n")
	assert.Contains(t, body, "c{k=\"\uFFFD\"} 1\n")
}

func TestConfigRejectsBadTimingSettings(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{name: "unsorted buckets", yaml: `histogram_buckets: [1, 0.5]`, wantErr: "strictly increasing"},
		{name: "repeated bucket", yaml: `histogram_buckets: [1, 1]`, wantErr: "strictly increasing"},
		{name: "quantile above one", yaml: `summary_quantiles_objectives: [{quantile: 1.5, error: 0.01}]`, wantErr: "quantile must be within"},
		{name: "zero error", yaml: `summary_quantiles_objectives: [{quantile: 0.5, error: 0}]`, wantErr: "error within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := prometheusSpec().ParseYAML(tt.yaml, nil)
			require.NoError(t, err)
			_, err = newPrometheusFromParsed(conf, nil)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	conf, err := prometheusSpec().ParseYAML(`{}`, nil)
	require.NoError(t, err)
	c, err := prometheusConfigFromParsed(conf)
	require.NoError(t, err)

	assert.Empty(t, c.prefix)
	assert.True(t, c.useHistogram)
	assert.Equal(t, []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}, c.buckets)
	assert.Equal(t, map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001}, c.objectives)
	assert.False(t, c.addProcessMetrics)
	assert.False(t, c.addGoMetrics)
}

func TestExporterIsRegisteredGlobally(t *testing.T) {
	var found bool
	service.GlobalEnvironment().WalkMetrics(func(name string, _ *service.ConfigView) {
		found = found || name == "prometheus"
	})
	assert.True(t, found)
}

func containsLine(body, line string) bool {
	for l := range strings.SplitSeq(body, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

func TestPrometheusIsTheDefaultExporterOnceRegistered(t *testing.T) {
	// Core Benthos picks prometheus as the default `metrics` type whenever one
	// is registered globally; the exporter's docs promise this.
	data, err := service.GlobalEnvironment().FullConfigSchema("", "").TemplateData("metrics")
	require.NoError(t, err)
	assert.Contains(t, data.AdvancedConfigYAML, "metrics:\n  prometheus:")
}
