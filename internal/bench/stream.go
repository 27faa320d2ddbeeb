package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	// Every component a scenario builds, and the binary's default metrics exporter, so that the
	// per-event metric updates cost what they cost in mimecast-connect.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/mimecast-connect/mimecast-connect/input"
	_ "github.com/mimecast-connect/mimecast-connect/metrics"
	_ "github.com/mimecast-connect/mimecast-connect/processor"
)

// counter is the pipelines' output: it drops what it receives, as the `drop` output does, after
// counting it per key (the first message's metadata key of each batch: every batch of the
// inputs measured comes from one feed).
type counter struct {
	key      func(service.MessageBatch) string
	expected int64
	total    atomic.Int64
	reached  atomic.Int64 // total when it first reached expected: where the phase ends
	errored  atomic.Int64 // messages flagged with an error
	done     chan struct{}
	once     sync.Once

	mu    sync.Mutex
	byKey map[string]int64
}

func newCounter(expected int64, key func(service.MessageBatch) string) *counter {
	return &counter{key: key, expected: expected, done: make(chan struct{}), byKey: map[string]int64{}}
}

func metaKey(name string) func(service.MessageBatch) string {
	return func(b service.MessageBatch) string {
		v, _ := b[0].MetaGet(name)
		return v
	}
}

func (c *counter) consume(_ context.Context, b service.MessageBatch) error {
	if len(b) == 0 {
		return nil
	}
	for _, m := range b {
		if m.GetError() != nil {
			c.errored.Add(1)
		}
	}
	if c.key != nil {
		k := c.key(b)
		c.mu.Lock()
		c.byKey[k] += int64(len(b))
		c.mu.Unlock()
	}
	if n := c.total.Add(int64(len(b))); n >= c.expected {
		c.once.Do(func() {
			c.reached.Store(n)
			close(c.done)
		})
	}
	return nil
}

func (c *counter) counts() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.byKey))
	for k, v := range c.byKey {
		out[k] = v
	}
	return out
}

// wait returns once the expected number of events arrived, or with errIncomplete when nothing
// arrived for quiet, or when ctx or the stream ends first.
func (c *counter) wait(ctx context.Context, quiet time.Duration, ended <-chan error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last, lastAt := c.total.Load(), time.Now()
	for {
		select {
		case <-c.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("after %d of %d events: %w", c.total.Load(), c.expected, ctx.Err())
		case err := <-ended:
			if c.total.Load() >= c.expected {
				return nil
			}
			return fmt.Errorf("stream ended after %d of %d events: %v: %w", c.total.Load(), c.expected, err, errIncomplete)
		case <-tick.C:
			if n := c.total.Load(); n != last {
				last, lastAt = n, time.Now()
			} else if time.Since(lastAt) > quiet {
				return fmt.Errorf("%d of %d events, then nothing for %v: %w", n, c.expected, quiet, errIncomplete)
			}
		}
	}
}

// pipeline is a built stream under measurement.
type pipeline struct {
	stream *service.Stream
	ended  chan error
	// produce feeds the stream when its spec has no input.
	produce service.MessageBatchHandlerFunc
}

// pipelineSpec is the YAML of a stream: an input (none: the harness produces the messages) and
// optionally processors and resources.
type pipelineSpec struct {
	input      string
	processors []string
	resources  string
	threads    int
}

// startPipeline builds spec with consume as its output and runs it.
func startPipeline(spec pipelineSpec, consume service.MessageBatchHandlerFunc) (*pipeline, error) {
	b := service.NewStreamBuilder()
	b.SetLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	if spec.threads > 0 {
		b.SetThreads(spec.threads)
	}
	if spec.resources != "" {
		if err := b.AddResourcesYAML(spec.resources); err != nil {
			return nil, fmt.Errorf("adding resources: %w", err)
		}
	}
	var produce service.MessageBatchHandlerFunc
	if spec.input != "" {
		if err := b.AddInputYAML(spec.input); err != nil {
			return nil, fmt.Errorf("adding input: %w", err)
		}
	} else {
		var err error
		if produce, err = b.AddBatchProducerFunc(); err != nil {
			return nil, fmt.Errorf("adding producer: %w", err)
		}
	}
	for _, p := range spec.processors {
		if err := b.AddProcessorYAML(p); err != nil {
			return nil, fmt.Errorf("adding processor: %w", err)
		}
	}
	if err := b.AddBatchConsumerFunc(consume); err != nil {
		return nil, fmt.Errorf("adding output: %w", err)
	}
	s, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("building stream: %w", err)
	}
	p := &pipeline{stream: s, ended: make(chan error, 1), produce: produce}
	go func() { p.ended <- s.Run(context.Background()) }()
	return p, nil
}

// stop shuts the stream down; the measurement is over by then.
func (p *pipeline) stop() {
	_ = p.stream.StopWithin(10 * time.Second)
}

// connYAML is the connection block of the project's components for the fake at url.
func connYAML(url string) string {
	return fmt.Sprintf("api_url: %s\nclient_id: %s\nclient_secret: %s\nstats_interval: \"\"\n",
		url, fakeClientID, fakeClientSecret)
}
