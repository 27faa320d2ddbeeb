package streamtest

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

// Observer is what a stream under test exported: every counter increment (by name, and by name
// with its labels) and every log line at every level, as JSON. Fault and security tests read it
// to check that a fault was counted and logged, and that no secret reached either.
type Observer struct {
	mu       sync.Mutex
	counters map[string]int64 // "name" and "name{k=v,...}"
	labels   []string         // every label value any metric was given
	logBuf   bytes.Buffer
}

func NewObserver() *Observer { return &Observer{counters: map[string]int64{}} }

// Write receives the slog JSON handler's output.
func (o *Observer) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.logBuf.Write(p)
}

// LogLine is one line of the stream's log.
type LogLine struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
}

// LogLines returns the lines logged at minLevel or above (slog level names: DEBUG, INFO, WARN,
// ERROR; Benthos' trace level is below DEBUG).
func (o *Observer) LogLines(minLevel slog.Level) []LogLine {
	o.mu.Lock()
	raw := slices.Clone(o.logBuf.Bytes())
	o.mu.Unlock()
	var out []LogLine
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var l LogLine
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

// LogText is the whole log as written, every level.
func (o *Observer) LogText() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.logBuf.String()
}

// counter returns a counter's total: name alone sums every label set; name{k=v,...} is one set,
// labels in their declared order, without the label and path labels Benthos adds.
func (o *Observer) Counter(key string) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counters[key]
}

// CounterWith sums a counter over the label sets that include label ("reason=timeout"), whatever
// the other labels (such as the endpoint) are.
func (o *Observer) CounterWith(name, label string) int64 {
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

// CounterKeys lists every counter key seen, for failure messages.
func (o *Observer) CounterKeys() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	keys := slices.Collect(maps.Keys(o.counters))
	sort.Strings(keys)
	return keys
}

// LabelValues returns every label value any metric was created with.
func (o *Observer) LabelValues() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.labels)
}

func (o *Observer) add(name string, keys, values []string, n int64) {
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

func (o *Observer) noteLabels(values []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.labels = append(o.labels, values...)
}

type observedCounter struct {
	o            *Observer
	name         string
	keys, values []string
}

func (c observedCounter) Incr(n int64)          { c.o.add(c.name, c.keys, c.values, n) }
func (c observedCounter) IncrFloat64(n float64) { c.o.add(c.name, c.keys, c.values, int64(n)) }
func (observedCounter) Timing(int64)            {}
func (observedCounter) Set(int64)               {}

func (o *Observer) NewCounterCtor(name string, keys ...string) service.MetricsExporterCounterCtor {
	return func(values ...string) service.MetricsExporterCounter {
		o.noteLabels(values)
		return observedCounter{o: o, name: name, keys: keys, values: values}
	}
}

func (o *Observer) NewTimerCtor(name string, keys ...string) service.MetricsExporterTimerCtor {
	return func(values ...string) service.MetricsExporterTimer {
		o.noteLabels(values)
		return observedCounter{o: o, name: name, keys: keys, values: values}
	}
}

func (o *Observer) NewGaugeCtor(name string, keys ...string) service.MetricsExporterGaugeCtor {
	return func(values ...string) service.MetricsExporterGauge {
		o.noteLabels(values)
		return observedCounter{o: o, name: name, keys: keys, values: values}
	}
}

func (*Observer) Close(context.Context) error { return nil }

// ObservedBuilder is a stream builder in its own environment whose metrics exporter and logger
// (every level, down to trace) write to the returned Observer.
func ObservedBuilder(t *testing.T, spec StreamSpec, c *Collector, processors ...string) (*service.StreamBuilder, *Observer) {
	t.Helper()
	obs := NewObserver()
	env := service.NewEnvironment()
	require.NoError(t, env.RegisterMetricsExporter("observed", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) { return obs, nil }))
	b := env.NewStreamBuilder()
	b.SetLogger(slog.New(slog.NewJSONHandler(obs, &slog.HandlerOptions{Level: slog.Level(-8)})))
	require.NoError(t, b.SetMetricsYAML("observed: {}"))
	if spec.Resources != "" {
		require.NoError(t, b.AddResourcesYAML(spec.Resources))
	}
	require.NoError(t, b.AddInputYAML(spec.Input))
	for _, p := range processors {
		require.NoError(t, b.AddProcessorYAML(p))
	}
	require.NoError(t, b.AddConsumerFunc(c.Consume))
	return b, obs
}

// StartObserved builds and runs a stream like StartStream, observed, with processors (YAML of
// each) between the input and the Collector.
func StartObserved(t *testing.T, spec StreamSpec, c *Collector, processors ...string) (*service.Stream, func(), *Observer) {
	t.Helper()
	b, obs := ObservedBuilder(t, spec, c, processors...)
	s, stop := RunBuilt(t, b)
	return s, stop, obs
}

// RunObservedToEnd runs a stream whose input ends by itself (mimecast_archive with end_date),
// observed, and fails the test if it does not end within timeout.
func RunObservedToEnd(t *testing.T, spec StreamSpec, c *Collector, timeout time.Duration) *Observer {
	t.Helper()
	b, obs := ObservedBuilder(t, spec, c)
	s, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	require.NoError(t, s.Run(ctx), "the input must end by itself at end_date")
	return obs
}
