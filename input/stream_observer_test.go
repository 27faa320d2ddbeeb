package input

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"
)

// observer is what a stream under test exported: every counter increment (by name, and by name
// with its labels) and every log line at every level, as JSON. Fault and security tests read it
// to check that a fault was counted and logged, and that no secret reached either.
type observer struct {
	mu       sync.Mutex
	counters map[string]int64 // "name" and "name{k=v,...}"
	labels   []string         // every label value any metric was given
	logBuf   bytes.Buffer
}

func newObserver() *observer { return &observer{counters: map[string]int64{}} }

// Write receives the slog JSON handler's output.
func (o *observer) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.logBuf.Write(p)
}

// logLine is one line of the stream's log.
type logLine struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
}

// logLines returns the lines logged at minLevel or above (slog level names: DEBUG, INFO, WARN,
// ERROR; Benthos' trace level is below DEBUG).
func (o *observer) logLines(minLevel slog.Level) []logLine {
	o.mu.Lock()
	raw := slices.Clone(o.logBuf.Bytes())
	o.mu.Unlock()
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		var lvl slog.Level
		if lvl.UnmarshalText([]byte(l.Level)) == nil && lvl >= minLevel {
			out = append(out, l)
		}
	}
	return out
}

// logText is the whole log as written, every level.
func (o *observer) logText() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.logBuf.String()
}

// counter returns a counter's total: name alone sums every label set; name{k=v,...} is one set,
// labels in their declared order, without the label and path labels Benthos adds.
func (o *observer) counter(key string) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counters[key]
}

// counterWith sums a counter over the label sets that include label ("reason=timeout"), whatever
// the other labels (such as the endpoint) are.
func (o *observer) counterWith(name, label string) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var n int64
	for k, v := range o.counters {
		rest, ok := strings.CutPrefix(k, name+"{")
		if !ok {
			continue
		}
		for _, l := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
			if l == label {
				n += v
				break
			}
		}
	}
	return n
}

// counterKeys lists every counter key seen, for failure messages.
func (o *observer) counterKeys() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	keys := slices.Collect(maps.Keys(o.counters))
	sort.Strings(keys)
	return keys
}

// labelValues returns every label value any metric was created with.
func (o *observer) labelValues() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.labels)
}

func (o *observer) add(name string, keys, values []string, n int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.counters[name] += n
	var parts []string
	for i, k := range keys {
		if k == "label" || k == "path" {
			continue // added by Benthos to every component metric
		}
		v := ""
		if i < len(values) {
			v = values[i]
		}
		parts = append(parts, k+"="+v)
	}
	if len(parts) > 0 {
		o.counters[name+"{"+strings.Join(parts, ",")+"}"] += n
	}
}

func (o *observer) noteLabels(values []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.labels = append(o.labels, values...)
}

type observedCounter struct {
	o            *observer
	name         string
	keys, values []string
}

func (c observedCounter) Incr(n int64)          { c.o.add(c.name, c.keys, c.values, n) }
func (c observedCounter) IncrFloat64(n float64) { c.o.add(c.name, c.keys, c.values, int64(n)) }
func (observedCounter) Timing(int64)            {}
func (observedCounter) Set(int64)               {}

func (o *observer) NewCounterCtor(name string, keys ...string) service.MetricsExporterCounterCtor {
	return func(values ...string) service.MetricsExporterCounter {
		o.noteLabels(values)
		return observedCounter{o: o, name: name, keys: keys, values: values}
	}
}

func (o *observer) NewTimerCtor(name string, keys ...string) service.MetricsExporterTimerCtor {
	return func(values ...string) service.MetricsExporterTimer {
		o.noteLabels(values)
		return observedCounter{o: o, name: name, keys: keys, values: values}
	}
}

func (o *observer) NewGaugeCtor(name string, keys ...string) service.MetricsExporterGaugeCtor {
	return func(values ...string) service.MetricsExporterGauge {
		o.noteLabels(values)
		return observedCounter{o: o, name: name, keys: keys, values: values}
	}
}

func (*observer) Close(context.Context) error { return nil }

// observedBuilder is a stream builder in its own environment whose metrics exporter and logger
// (every level, down to trace) write to the returned observer.
func observedBuilder(t *testing.T, spec streamSpec, c *collector, processors ...string) (*service.StreamBuilder, *observer) {
	t.Helper()
	obs := newObserver()
	env := service.NewEnvironment()
	require.NoError(t, env.RegisterMetricsExporter("observed", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) { return obs, nil }))
	b := env.NewStreamBuilder()
	b.SetLogger(slog.New(slog.NewJSONHandler(obs, &slog.HandlerOptions{Level: slog.Level(-8)})))
	require.NoError(t, b.SetMetricsYAML("observed: {}"))
	if spec.resources != "" {
		require.NoError(t, b.AddResourcesYAML(spec.resources))
	}
	require.NoError(t, b.AddInputYAML(spec.input))
	for _, p := range processors {
		require.NoError(t, b.AddProcessorYAML(p))
	}
	require.NoError(t, b.AddConsumerFunc(c.consume))
	return b, obs
}

// startObserved builds and runs a stream like startStream, observed, with processors (YAML of
// each) between the input and the collector.
func startObserved(t *testing.T, spec streamSpec, c *collector, processors ...string) (*service.Stream, func(), *observer) {
	t.Helper()
	b, obs := observedBuilder(t, spec, c, processors...)
	s, stop := runBuilt(t, b)
	return s, stop, obs
}

// runObservedToEnd runs a stream whose input ends by itself (mimecast_archive with end_date),
// observed, and fails the test if it does not end within timeout.
func runObservedToEnd(t *testing.T, spec streamSpec, c *collector, timeout time.Duration) *observer {
	t.Helper()
	b, obs := observedBuilder(t, spec, c)
	s, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	require.NoError(t, s.Run(ctx), "the input must end by itself at end_date")
	return obs
}
