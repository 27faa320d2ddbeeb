// Package streamtest runs Benthos streams of the Mimecast components against the simulated
// tenant in tests: a tenant over real HTTP, a collecting consumer, and an observer of every log
// line and metric, so that tests can check what was emitted, counted and logged.
package streamtest

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	// The file cache (checkpoints that survive a restart) lives in the io components.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// FakeTenant serves a simulated tenant over real HTTP for the test's lifetime.
func FakeTenant(t *testing.T, opts mimecastfake.Options) (*mimecastfake.Server, string) {
	t.Helper()
	fake := mimecastfake.New(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

// ConnYAML is the connection block for the fake at url with the default credentials.
func ConnYAML(url string) string {
	return fmt.Sprintf(`api_url: %s
client_id: %s
client_secret: %s
stats_interval: ""
max_retry_wait: 200ms
`, url, mimecastfake.DefaultClientID, mimecastfake.DefaultClientSecret)
}

// FaultConn is the connection fields of fault tests. Waits are short so that each case runs in a
// few seconds: the client's retries wait at most 100ms, and 429s ask for 100ms.
const FaultConn = "max_retry_wait: 100ms\n"

// Collector gathers the messages a stream delivers. Reject, when set, nacks a message it returns
// true for (once per message content).
type Collector struct {
	mu     sync.Mutex
	msgs   []*service.Message
	notify chan struct{}
	Reject func(m *service.Message) bool
}

func NewCollector() *Collector { return &Collector{notify: make(chan struct{}, 1)} }

func (c *Collector) Consume(_ context.Context, m *service.Message) error {
	if c.Reject != nil && c.Reject(m) {
		return fmt.Errorf("rejected by test")
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return nil
}

func (c *Collector) Snapshot() []*service.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*service.Message(nil), c.msgs...)
}

// WaitFor waits until cond holds over the collected messages, or fails the test after timeout.
func (c *Collector) WaitFor(t *testing.T, timeout time.Duration, cond func([]*service.Message) bool) []*service.Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if msgs := c.Snapshot(); cond(msgs) {
			return msgs
		}
		select {
		case <-deadline.C:
			msgs := c.Snapshot()
			t.Fatalf("condition not met within %v; %d messages collected", timeout, len(msgs))
			return nil
		case <-c.notify:
		case <-tick.C:
		}
	}
}

// StreamSpec describes a stream under test: the input YAML, resources YAML and the consumer.
type StreamSpec struct {
	Input     string
	Resources string
}

// StartStream builds and runs a stream, returning it and a stop function that waits for it.
func StartStream(t *testing.T, spec StreamSpec, c *Collector) (*service.Stream, func()) {
	t.Helper()
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML(`level: none`))
	if spec.Resources != "" {
		require.NoError(t, b.AddResourcesYAML(spec.Resources))
	}
	require.NoError(t, b.AddInputYAML(spec.Input))
	require.NoError(t, b.AddConsumerFunc(c.Consume))
	return RunBuilt(t, b)
}

// RunBuilt builds the stream of b and runs it in the background; stop (also run at cleanup)
// stops it and waits for Run to return.
func RunBuilt(t *testing.T, b *service.StreamBuilder) (*service.Stream, func()) {
	t.Helper()
	s, err := b.Build()
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		Stop(t, s, 5*time.Second)
		<-done
	}
	t.Cleanup(stop)
	return s, stop
}

// Settle waits a few poll intervals and returns the messages then: the input must be quiet.
func Settle(c *Collector) []*service.Message {
	time.Sleep(400 * time.Millisecond)
	return c.Snapshot()
}

// Stop stops s within timeout. When it does not, the test fails with the stacks of the
// goroutines that held it: a stream that cannot stop is a bug to find, not a flake.
func Stop(t *testing.T, s *service.Stream, timeout time.Duration) {
	t.Helper()
	err := s.StopWithin(timeout)
	if err == nil {
		return
	}
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
	t.Fatalf("the stream did not stop within %s: %v\n%s", timeout, err, buf.String())
}
