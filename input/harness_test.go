package input

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	// The file cache (checkpoints that survive a restart) lives in the io components.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// fakeTenant serves a simulated tenant over real HTTP for the test's lifetime.
func fakeTenant(t *testing.T, opts mimecastfake.Options) (*mimecastfake.Server, string) {
	t.Helper()
	fake := mimecastfake.New(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

// connYAML is the connection block for the fake at url with the default credentials.
func connYAML(url string) string {
	return fmt.Sprintf(`api_url: %s
client_id: %s
client_secret: %s
stats_interval: ""
max_retry_wait: 200ms
`, url, mimecastfake.DefaultClientID, mimecastfake.DefaultClientSecret)
}

// collector gathers the messages a stream delivers. reject, when set, nacks a message it returns
// true for (once per message content).
type collector struct {
	mu     sync.Mutex
	msgs   []*service.Message
	notify chan struct{}
	reject func(m *service.Message) bool
}

func newCollector() *collector { return &collector{notify: make(chan struct{}, 1)} }

func (c *collector) consume(_ context.Context, m *service.Message) error {
	if c.reject != nil && c.reject(m) {
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

func (c *collector) snapshot() []*service.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*service.Message(nil), c.msgs...)
}

// waitFor waits until cond holds over the collected messages, or fails the test after timeout.
func (c *collector) waitFor(t *testing.T, timeout time.Duration, cond func([]*service.Message) bool) []*service.Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if msgs := c.snapshot(); cond(msgs) {
			return msgs
		}
		select {
		case <-deadline.C:
			msgs := c.snapshot()
			t.Fatalf("condition not met within %v; %d messages collected", timeout, len(msgs))
			return nil
		case <-c.notify:
		case <-tick.C:
		}
	}
}

// streamSpec describes a stream under test: the input YAML, resources YAML and the consumer.
type streamSpec struct {
	input     string
	resources string
}

// startStream builds and runs a stream, returning it and a stop function that waits for it.
func startStream(t *testing.T, spec streamSpec, c *collector) (*service.Stream, func()) {
	t.Helper()
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML(`level: none`))
	if spec.resources != "" {
		require.NoError(t, b.AddResourcesYAML(spec.resources))
	}
	require.NoError(t, b.AddInputYAML(spec.input))
	require.NoError(t, b.AddConsumerFunc(c.consume))
	return runBuilt(t, b)
}

// runBuilt builds the stream of b and runs it in the background; stop (also run at cleanup)
// stops it and waits for Run to return.
func runBuilt(t *testing.T, b *service.StreamBuilder) (*service.Stream, func()) {
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
		require.NoError(t, s.StopWithin(5*time.Second))
		<-done
	}
	t.Cleanup(stop)
	return s, stop
}
