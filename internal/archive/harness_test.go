package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// Test helpers for mimecast_archive: a small tenant, the input YAML, a metrics exporter that
// tests can read, and accessors for the collected messages.

// smallArchive is a tenant of one ordinary and one local domain, 3 users each, 8 messages per
// mailbox (every MIME variant of the fake at least once across the mailboxes).
func smallArchive() mimecastfake.Options {
	return mimecastfake.Options{Sizes: mimecastfake.Sizes{
		Domains: 2, LocalDomains: 1, UsersPerDomain: 3, MessagesPerMailbox: 8, AttachmentBytes: 4096, EventsPerFeed: -1,
	}}
}

const (
	ordinaryDomain = "corp0.example.com"
	localDomain    = "corp1.local"
)

// archiveInputYAML is a mimecast_archive input for the fake at url with extra fields (YAML lines
// at the input's level). Progress logs are off and the poll interval is long, so a test sees
// exactly one crawl unless it says otherwise.
func archiveInputYAML(url, extra string) string {
	var b strings.Builder
	b.WriteString("mimecast_archive:\n")
	for _, l := range strings.Split(strings.TrimSpace(streamtest.ConnYAML(url)+"progress_interval: \"\"\npoll_interval: 1h\n"+strings.TrimSpace(extra)), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// archUntilNow is an end_date that covers every generated message and ends the input after one crawl.
func archUntilNow() string { return "end_date: " + time.Now().UTC().Format(time.RFC3339Nano) + "\n" }

// archiveStream is a stream under test: the input, resources and metrics YAML.
type archiveStream struct {
	input     string
	resources string
	metrics   string
}

func (spec archiveStream) build(t *testing.T, c *streamtest.Collector) *service.Stream {
	t.Helper()
	b := service.NewStreamBuilder()
	level := "none"
	if l := os.Getenv("ARCHIVE_TEST_LOG"); l != "" { // e.g. debug, when a test needs explaining
		level = l
	}
	require.NoError(t, b.SetLoggerYAML("level: "+level))
	if spec.metrics != "" {
		require.NoError(t, b.SetMetricsYAML(spec.metrics))
	}
	if spec.resources != "" {
		require.NoError(t, b.AddResourcesYAML(spec.resources))
	}
	require.NoError(t, b.AddInputYAML(spec.input))
	require.NoError(t, b.AddConsumerFunc(c.Consume))
	s, err := b.Build()
	require.NoError(t, err)
	return s
}

// archRunToEnd runs a stream with end_date set until the input ends by itself and returns what it
// emitted; it fails the test if the input does not end within timeout.
func archRunToEnd(t *testing.T, spec archiveStream, timeout time.Duration) []*service.Message {
	t.Helper()
	c := streamtest.NewCollector()
	s := spec.build(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	require.NoError(t, s.Run(ctx), "the input must end by itself at end_date")
	return c.Snapshot()
}

// startArchive runs a stream in the background; stop stops it and waits (also on cleanup).
func startArchive(t *testing.T, spec archiveStream, c *streamtest.Collector) (stop func()) {
	t.Helper()
	s := spec.build(t, c)
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			require.NoError(t, s.StopWithin(10*time.Second))
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

// archFileCache is a resources block with a file cache named state in dir.
func archFileCache(dir string) string {
	return fmt.Sprintf("cache_resources:\n  - label: state\n    file:\n      directory: %s\n", dir)
}

func archMeta(m *service.Message, key string) string {
	v, ok := m.MetaGetMut(key)
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// archByDocument splits messages by mimecast_document and mimecast_operation.
func archByDocument(msgs []*service.Message, doc, op string) []*service.Message {
	var out []*service.Message
	for _, m := range msgs {
		if archMeta(m, metaDocument) == doc && archMeta(m, metaOperation) == op {
			out = append(out, m)
		}
	}
	return out
}

func archEmails(msgs []*service.Message) []*service.Message {
	return archByDocument(msgs, docEmail, opIndex)
}

func decodeEmail(t *testing.T, m *service.Message) emailDocument {
	t.Helper()
	b, err := m.AsBytes()
	require.NoError(t, err)
	var doc emailDocument
	require.NoError(t, json.Unmarshal(b, &doc))
	return doc
}

func archIDs(msgs []*service.Message) []string {
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, archMeta(m, metaMessageID))
	}
	return out
}

func archMailboxes(msgs []*service.Message) map[string]int {
	out := map[string]int{}
	for _, m := range msgs {
		out[archMeta(m, metaMailbox)]++
	}
	return out
}

// archAllIDs is every archive id of the mailboxes of domain in the fake.
func archAllIDs(fake *mimecastfake.Server, domain string) []string {
	var out []string
	for _, mb := range fake.Mailboxes() {
		if strings.HasSuffix(mb, "@"+domain) {
			out = append(out, fake.MessageIDs(mb)...)
		}
	}
	return out
}

// archTestMetrics is a metrics exporter whose counters tests read by name (summed over labels) or
// by name and one label value ("name|value"). Each stream names its own registry key.
type archTestMetrics struct {
	mu     sync.Mutex
	values map[string]int64
	notify chan struct{} // signalled on every change
}

var (
	archTestMetricsMu  sync.Mutex
	archTestMetricsReg = map[string]*archTestMetrics{}
)

func init() {
	service.MustRegisterMetricsExporter("archive_test_metrics",
		service.NewConfigSpec().Field(service.NewStringField("key")),
		func(conf *service.ParsedConfig, _ *service.Logger) (service.MetricsExporter, error) {
			key, err := conf.FieldString("key")
			if err != nil {
				return nil, err
			}
			archTestMetricsMu.Lock()
			defer archTestMetricsMu.Unlock()
			m, ok := archTestMetricsReg[key]
			if !ok {
				m = newArchTestMetrics()
				archTestMetricsReg[key] = m
			}
			return m, nil
		})
}

// archMetricsFor returns the YAML for a stream's metrics and the registry it fills.
func archMetricsFor(t *testing.T) (string, *archTestMetrics) {
	key := t.Name()
	archTestMetricsMu.Lock()
	m := newArchTestMetrics()
	archTestMetricsReg[key] = m
	archTestMetricsMu.Unlock()
	return fmt.Sprintf("archive_test_metrics:\n  key: %q\n", key), m
}

func newArchTestMetrics() *archTestMetrics {
	return &archTestMetrics{values: map[string]int64{}, notify: make(chan struct{}, 1)}
}

func (m *archTestMetrics) changed() {
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// waitAtLeast waits until counter name reaches n, or fails the test after timeout.
func (m *archTestMetrics) waitAtLeast(t *testing.T, name string, n int64, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for m.get(name) < n {
		select {
		case <-m.notify:
		case <-deadline:
			t.Fatalf("%s stayed at %d, below %d, for %v", name, m.get(name), n, timeout)
		}
	}
}

func (m *archTestMetrics) get(name string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.values[name]
}

func (m *archTestMetrics) add(name string, labels []string, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[name] += n
	for _, l := range labels {
		m.values[name+"|"+l] += n
	}
	m.changed()
}

type archTestCounter struct {
	m      *archTestMetrics
	name   string
	labels []string
}

func (c archTestCounter) Incr(n int64)                 { c.m.add(c.name, c.labels, n) }
func (c archTestCounter) Timing(int64)                 {}
func (c archTestCounter) Set(v int64)                  { c.m.mu.Lock(); c.m.values[c.name] = v; c.m.mu.Unlock() }
func (m *archTestMetrics) Close(context.Context) error { return nil }

func (m *archTestMetrics) NewCounterCtor(name string, _ ...string) service.MetricsExporterCounterCtor {
	return func(lv ...string) service.MetricsExporterCounter { return archTestCounter{m, name, lv} }
}

func (m *archTestMetrics) NewTimerCtor(name string, _ ...string) service.MetricsExporterTimerCtor {
	return func(lv ...string) service.MetricsExporterTimer { return archTestCounter{m, name, lv} }
}

func (m *archTestMetrics) NewGaugeCtor(name string, _ ...string) service.MetricsExporterGaugeCtor {
	return func(lv ...string) service.MetricsExporterGauge { return archTestCounter{m, name, lv} }
}

// archTenant serves a fake tenant behind wrap (a test's interference: faults the fake does not
// have, substituted content) over real HTTP.
func archTenant(t *testing.T, opts mimecastfake.Options, wrap func(http.Handler) http.Handler) (*mimecastfake.Server, string) {
	t.Helper()
	fake := mimecastfake.New(opts)
	srv := httptest.NewServer(wrap(fake))
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

// searchGate fails every archive search after the first `allow` with HTTP 500, until opened;
// rejected receives one value per failed search (it must be buffered enough for the test).
type searchGate struct {
	mu       sync.Mutex
	allow    int
	calls    int
	opened   bool
	handler  http.Handler
	rejected chan struct{}
}

func (g *searchGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/archive/search" {
		g.mu.Lock()
		g.calls++
		shut := !g.opened && g.calls > g.allow
		g.mu.Unlock()
		if shut {
			http.Error(w, `{"fail":[{"code":"err_test_gate","message":"gate closed"}]}`, http.StatusInternalServerError)
			select {
			case g.rejected <- struct{}{}:
			default:
			}
			return
		}
	}
	g.handler.ServeHTTP(w, r)
}

// waitRejected waits until n searches were refused.
func (g *searchGate) waitRejected(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for range n {
		select {
		case <-g.rejected:
		case <-timeout:
			t.Fatalf("fewer than %d searches were refused", n)
		}
	}
}

func (g *searchGate) open() {
	g.mu.Lock()
	g.opened = true
	g.mu.Unlock()
}

// partSubstitutes answers get-message-part for the listed archive ids with the given raw bytes
// instead of the fake's message.
func partSubstitutes(subst map[string]string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/archive/get-message-part" {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				var req struct {
					Data []struct {
						ID string `json:"id"`
					} `json:"data"`
				}
				if json.Unmarshal(body, &req) == nil && len(req.Data) == 1 {
					if raw, ok := subst[req.Data[0].ID]; ok {
						w.Header().Set("Content-Type", "message/rfc822")
						_, _ = io.WriteString(w, raw)
						return
					}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}
