// Package metrics holds the prometheus metrics exporter, which core Benthos
// v4.60.0 does not ship.
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	pmFieldPrefix             = "prefix"
	pmFieldUseHistogramTiming = "use_histogram_timing"
	pmFieldHistogramBuckets   = "histogram_buckets"
	pmFieldSummaryObjectives  = "summary_quantiles_objectives"
	pmFieldQuantile           = "quantile"
	pmFieldError              = "error"
	pmFieldAddProcessMetrics  = "add_process_metrics"
	pmFieldAddGoMetrics       = "add_go_metrics"
)

func prometheusSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Version("0.1.0").
		Summary("Serves metrics in the Prometheus text format on `/metrics` (and `/stats`) of the service-wide HTTP server, for Prometheus to scrape.").
		Description(`
Core Benthos v4.60.0 has no Prometheus exporter; this one is built into mimecast-connect. When it is registered it is also the default metrics type, so a config without a `+"`metrics`"+` section is scraped the same way.

The endpoint lives on the service-wide HTTP server (`+"`http.address`"+`, default `+"`0.0.0.0:4195`"+`): scrape `+"`http://<host>:4195/metrics`"+`. Set `+"`http.enabled: false`"+` and nothing is served. Each exporter keeps its own registry, so several streams or tests in one process never collide.

### Metric types

- Counters are Prometheus counters. A negative increment is dropped, because a Prometheus counter may only go up.
- Gauges are Prometheus gauges.
- Timers are **histograms** by default (`+"`use_histogram_timing: true`"+`), or **summaries** with pre-computed quantiles when it is `+"`false`"+`. Histograms can be aggregated across replicas with `+"`histogram_quantile()`"+`; summaries cannot. Timers are observed in **seconds**, the Prometheus base unit, and a timer whose name ends in `+"`_ns`"+` is renamed to end in `+"`_seconds`"+` (`+"`input_latency_ns`"+` is exported as `+"`input_latency_seconds`"+`, `+"`mimecast_api_call_duration_ns`"+` as `+"`mimecast_api_call_duration_seconds`"+`).

### Names and labels

Metric and label names are sanitised to the classic Prometheus form `+"`[a-zA-Z_][a-zA-Z0-9_]*`"+`: any other character (including `+"`.`"+`, `+"`-`"+` and `+"`:`"+`) becomes `+"`_`"+`, a leading digit gets a `+"`_`"+` in front, and a label name starting with `+"`__`"+` (reserved by Prometheus) keeps a single leading underscore. Label values are kept as they are (invalid UTF-8 is replaced). Benthos adds the `+"`label`"+` and `+"`path`"+` labels to every component metric; rename or drop metrics and labels with the `+"`metrics.mapping`"+` field.

If two metrics end up with the same name but a different type or label set, the first one wins and the other is dropped with a warning in the log.`).
		Fields(
			service.NewStringField(pmFieldPrefix).
				Description("A prefix for every Benthos metric name, joined with an underscore (`prefix: mimecast` exports `input_received` as `mimecast_input_received`). The process and Go runtime metrics keep their standard names.").
				Example("mimecast").
				Optional(),
			service.NewBoolField(pmFieldUseHistogramTiming).
				Description("Export timers as histograms (`true`) or as summaries (`false`). Histograms can be aggregated across instances; summaries give exact quantiles for one instance.").
				Default(true).
				Advanced(),
			service.NewFloatListField(pmFieldHistogramBuckets).
				Description("Upper bounds, in seconds and strictly increasing, of the histogram buckets used for timers. Empty means the Prometheus default buckets (5ms to 10s), which suit API round trips.").
				Example([]any{0.01, 0.05, 0.1, 0.5, 1, 5, 30}).
				Default([]any{}).
				Advanced(),
			service.NewObjectListField(pmFieldSummaryObjectives,
				service.NewFloatField(pmFieldQuantile).
					Description("The quantile to compute, between 0 and 1.").
					Example(0.9),
				service.NewFloatField(pmFieldError).
					Description("The allowed absolute error of the quantile, greater than 0.").
					Example(0.01),
			).
				Description("Quantiles and their allowed error, used when timers are summaries (`use_histogram_timing: false`).").
				Default([]any{
					map[string]any{pmFieldQuantile: 0.5, pmFieldError: 0.05},
					map[string]any{pmFieldQuantile: 0.9, pmFieldError: 0.01},
					map[string]any{pmFieldQuantile: 0.99, pmFieldError: 0.001},
				}).
				Advanced(),
			service.NewBoolField(pmFieldAddProcessMetrics).
				Description("Also export the standard `process_*` metrics (CPU seconds, resident memory, open file descriptors) of the mimecast-connect process.").
				Default(false),
			service.NewBoolField(pmFieldAddGoMetrics).
				Description("Also export the standard `go_*` runtime metrics (goroutines, heap, GC pauses).").
				Default(false),
		).
		Example("Scrape with Prometheus",
			"Serve metrics, with process and Go runtime metrics, on `http://<host>:4195/metrics`.",
			`
http:
  address: 0.0.0.0:4195
metrics:
  prometheus:
    add_process_metrics: true
    add_go_metrics: true
`).
		Example("Summaries with a prefix",
			"Export timers as summaries and prefix every Benthos metric with `mimecast_connect_`.",
			`
metrics:
  prometheus:
    prefix: mimecast_connect
    use_histogram_timing: false
    summary_quantiles_objectives:
      - quantile: 0.5
        error: 0.05
      - quantile: 0.99
        error: 0.001
`)
}

func init() {
	service.MustRegisterMetricsExporter("prometheus", prometheusSpec(),
		func(conf *service.ParsedConfig, log *service.Logger) (service.MetricsExporter, error) {
			return newPrometheusFromParsed(conf, log)
		})
}

//------------------------------------------------------------------------------

type prometheusConfig struct {
	prefix            string
	useHistogram      bool
	buckets           []float64
	objectives        map[float64]float64
	addProcessMetrics bool
	addGoMetrics      bool
}

func prometheusConfigFromParsed(conf *service.ParsedConfig) (c prometheusConfig, err error) {
	if conf.Contains(pmFieldPrefix) {
		if c.prefix, err = conf.FieldString(pmFieldPrefix); err != nil {
			return c, err
		}
	}
	if c.useHistogram, err = conf.FieldBool(pmFieldUseHistogramTiming); err != nil {
		return c, err
	}
	if c.buckets, err = conf.FieldFloatList(pmFieldHistogramBuckets); err != nil {
		return c, err
	}
	// prometheus.NewHistogramVec panics on unsorted buckets, so this must be
	// caught here, where it can be reported as a config error.
	for i := 1; i < len(c.buckets); i++ {
		if c.buckets[i] <= c.buckets[i-1] {
			return c, fmt.Errorf("field %s: buckets must be strictly increasing, got %v after %v", pmFieldHistogramBuckets, c.buckets[i], c.buckets[i-1])
		}
	}
	if len(c.buckets) == 0 {
		c.buckets = prometheus.DefBuckets
	}
	objConfs, err := conf.FieldObjectList(pmFieldSummaryObjectives)
	if err != nil {
		return c, err
	}
	c.objectives = make(map[float64]float64, len(objConfs))
	for i, oc := range objConfs {
		q, err := oc.FieldFloat(pmFieldQuantile)
		if err != nil {
			return c, err
		}
		e, err := oc.FieldFloat(pmFieldError)
		if err != nil {
			return c, err
		}
		if q < 0 || q > 1 || e <= 0 || e >= 1 {
			return c, fmt.Errorf("field %s[%d]: quantile must be within [0, 1] and error within (0, 1), got quantile %v error %v", pmFieldSummaryObjectives, i, q, e)
		}
		c.objectives[q] = e
	}
	if c.addProcessMetrics, err = conf.FieldBool(pmFieldAddProcessMetrics); err != nil {
		return c, err
	}
	if c.addGoMetrics, err = conf.FieldBool(pmFieldAddGoMetrics); err != nil {
		return c, err
	}
	return c, nil
}

//------------------------------------------------------------------------------

type metricKind string

const (
	kindCounter metricKind = "counter"
	kindGauge   metricKind = "gauge"
	kindTimer   metricKind = "timer"
)

// registered is one metric family as first declared. Benthos asks for the
// same family once per component (every input calls NewCounterCtor for
// "input_received"), so later declarations must get the same vec back.
type registered struct {
	kind      metricKind
	labelKeys string // sanitised keys joined by ",", to compare declarations
	counters  *prometheus.CounterVec
	gauges    *prometheus.GaugeVec
	observers prometheus.ObserverVec
	warned    sync.Once
}

// prometheusExporter implements service.MetricsExporter, plus the optional
// HandlerFunc method that Benthos' HTTP server looks for to mount /metrics.
type prometheusExporter struct {
	conf    prometheusConfig
	log     *service.Logger
	reg     *prometheus.Registry
	handler http.Handler

	mu       sync.Mutex
	families map[string]*registered
}

func newPrometheusFromParsed(conf *service.ParsedConfig, log *service.Logger) (*prometheusExporter, error) {
	c, err := prometheusConfigFromParsed(conf)
	if err != nil {
		return nil, err
	}
	return newPrometheusExporter(c, log)
}

func newPrometheusExporter(c prometheusConfig, log *service.Logger) (*prometheusExporter, error) {
	// A registry per exporter rather than prometheus.DefaultRegisterer: the
	// default one is process-global, so two streams (or two tests) in one
	// process would fail with duplicate registrations.
	reg := prometheus.NewRegistry()
	if c.addProcessMetrics {
		if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, fmt.Errorf("registering process metrics: %w", err)
		}
	}
	if c.addGoMetrics {
		if err := reg.Register(collectors.NewGoCollector()); err != nil {
			return nil, fmt.Errorf("registering go runtime metrics: %w", err)
		}
	}
	return &prometheusExporter{
		conf: c,
		log:  log,
		reg:  reg,
		handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			// One broken family must not hide every other metric from the
			// scrape, so serve what can be gathered and log the rest.
			ErrorHandling: promhttp.ContinueOnError,
			ErrorLog:      promErrorLog{log},
		}),
		families: map[string]*registered{},
	}, nil
}

type promErrorLog struct{ log *service.Logger }

func (p promErrorLog) Println(v ...any) {
	p.log.Warnf("serving prometheus metrics: %s", strings.TrimSpace(fmt.Sprintln(v...)))
}

// HandlerFunc is found by Benthos through an interface assertion
// (public/service/metrics.go, airGapMetrics.HandlerFunc) and mounted on the
// service-wide HTTP server at /metrics and /stats.
func (p *prometheusExporter) HandlerFunc() http.HandlerFunc {
	return p.handler.ServeHTTP
}

// family returns the vec registered under name, creating it with build on
// first use, or nil when name is already taken by a different type or label
// set (or by a process/Go collector metric).
func (p *prometheusExporter) family(kind metricKind, name string, labelKeys []string, build func() prometheus.Collector) *registered {
	keys := strings.Join(labelKeys, ",")
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := p.families[name]; ok {
		if f.kind == kind && f.labelKeys == keys {
			return f
		}
		p.log.Warnf("dropping %s metric %q with labels [%s]: the name is already used by a %s with labels [%s]", kind, name, keys, f.kind, f.labelKeys)
		return nil
	}
	coll := build()
	if err := p.reg.Register(coll); err != nil {
		p.log.Warnf("dropping %s metric %q: registering with prometheus: %v", kind, name, err)
		return nil
	}
	f := &registered{kind: kind, labelKeys: keys}
	switch v := coll.(type) {
	case *prometheus.CounterVec:
		f.counters = v
	case *prometheus.GaugeVec:
		f.gauges = v
	case prometheus.ObserverVec:
		f.observers = v
	}
	p.families[name] = f
	return f
}

func sanitiseLabelKeys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = promLabelName(k)
	}
	return out
}

func validLabelValues(values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strings.ToValidUTF8(v, "\uFFFD")
	}
	return out
}

// warnBadValues reports once per family that a caller passed label values
// that do not fit the declared keys; per call would flood the log on a hot path.
func (p *prometheusExporter) warnBadValues(name string, f *registered, err error) {
	f.warned.Do(func() {
		p.log.Warnf("dropping values of metric %q: %v", name, err)
	})
}

func help(kind metricKind, name string) string {
	return fmt.Sprintf("Benthos %s %s.", kind, name)
}

// NewCounterCtor implements service.MetricsExporter.
func (p *prometheusExporter) NewCounterCtor(name string, labelKeys ...string) service.MetricsExporterCounterCtor {
	name = promMetricName(p.conf.prefix, name)
	keys := sanitiseLabelKeys(labelKeys)
	f := p.family(kindCounter, name, keys, func() prometheus.Collector {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help(kindCounter, name)}, keys)
	})
	return func(labelValues ...string) service.MetricsExporterCounter {
		if f == nil {
			return noopMetric{}
		}
		c, err := f.counters.GetMetricWithLabelValues(validLabelValues(labelValues)...)
		if err != nil {
			p.warnBadValues(name, f, err)
			return noopMetric{}
		}
		return promCounter{c}
	}
}

// NewGaugeCtor implements service.MetricsExporter.
func (p *prometheusExporter) NewGaugeCtor(name string, labelKeys ...string) service.MetricsExporterGaugeCtor {
	name = promMetricName(p.conf.prefix, name)
	keys := sanitiseLabelKeys(labelKeys)
	f := p.family(kindGauge, name, keys, func() prometheus.Collector {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help(kindGauge, name)}, keys)
	})
	return func(labelValues ...string) service.MetricsExporterGauge {
		if f == nil {
			return noopMetric{}
		}
		g, err := f.gauges.GetMetricWithLabelValues(validLabelValues(labelValues)...)
		if err != nil {
			p.warnBadValues(name, f, err)
			return noopMetric{}
		}
		return promGauge{g}
	}
}

// NewTimerCtor implements service.MetricsExporter.
func (p *prometheusExporter) NewTimerCtor(name string, labelKeys ...string) service.MetricsExporterTimerCtor {
	name = promTimerName(p.conf.prefix, name)
	keys := sanitiseLabelKeys(labelKeys)
	f := p.family(kindTimer, name, keys, func() prometheus.Collector {
		h := help(kindTimer, name) + " Seconds."
		if p.conf.useHistogram {
			return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: h, Buckets: p.conf.buckets}, keys)
		}
		return prometheus.NewSummaryVec(prometheus.SummaryOpts{Name: name, Help: h, Objectives: p.conf.objectives}, keys)
	})
	return func(labelValues ...string) service.MetricsExporterTimer {
		if f == nil {
			return noopMetric{}
		}
		o, err := f.observers.GetMetricWithLabelValues(validLabelValues(labelValues)...)
		if err != nil {
			p.warnBadValues(name, f, err)
			return noopMetric{}
		}
		return promTimer{o}
	}
}

// Close implements service.MetricsExporter. Nothing is pushed anywhere, so
// there is nothing to flush; the registry dies with the exporter.
func (p *prometheusExporter) Close(context.Context) error {
	return nil
}

//------------------------------------------------------------------------------

type promCounter struct{ c prometheus.Counter }

func (p promCounter) Incr(n int64) { p.IncrFloat64(float64(n)) }

// IncrFloat64 is found by Benthos through an interface assertion. Add panics
// on a negative value, which Benthos' counter API does not rule out.
func (p promCounter) IncrFloat64(n float64) {
	if n < 0 {
		return
	}
	p.c.Add(n)
}

type promGauge struct{ g prometheus.Gauge }

func (p promGauge) Set(v int64) { p.g.Set(float64(v)) }

// SetFloat64 is found by Benthos through an interface assertion; without it
// float gauges would be truncated to integers.
func (p promGauge) SetFloat64(v float64) { p.g.Set(v) }

type promTimer struct{ o prometheus.Observer }

// Timing receives nanoseconds, as every Benthos timer does, and observes
// seconds.
func (p promTimer) Timing(nanos int64) { p.o.Observe(float64(nanos) / 1e9) }

// noopMetric stands in for a metric that could not be registered or given
// values, so a naming clash degrades one metric instead of failing the
// pipeline.
type noopMetric struct{}

func (noopMetric) Incr(int64)          {}
func (noopMetric) IncrFloat64(float64) {}
func (noopMetric) Set(int64)           {}
func (noopMetric) SetFloat64(float64)  {}
func (noopMetric) Timing(int64)        {}
