package threats

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/batchinput"
	"github.com/mimecast-connect/mimecast-connect/internal/budget"
)

// threatsInput is the mimecast_threats BatchInput. Connect loads every source's checkpoint and
// starts one runner per source; runners hand chunks to ReadBatch through the queue.
type threatsInput struct {
	cfg     *threatsConfig
	mgr     *service.Resources
	log     *service.Logger
	metrics threatsMetrics
	store   *checkpointStore
	now     func() time.Time
	queue   *batchinput.Queue
	budget  *budget.Bytes // max_bytes_in_flight, shared by all sources

	content *contentFetcher

	// refused holds, per source, the refusal (credentials or permission) its last poll met;
	// when every source is refused the input as a whole is failing (not ready).
	refusedMu sync.Mutex
	refused   map[string]error
	nSources  int
}

func newThreatsInput(cfg *threatsConfig, mgr *service.Resources) *threatsInput {
	in := &threatsInput{
		cfg:     cfg,
		mgr:     mgr,
		log:     mgr.Logger(),
		metrics: newThreatsMetrics(mgr.Metrics()),
		store:   newCheckpointStore(mgr, cfg.checkpointName, cfg.checkpointKey),
		now:     time.Now,
		queue:   batchinput.New(),
		budget:  budget.New(cfg.maxBytesInFlight),
		refused: map[string]error{},
	}
	in.content = newContentFetcher(in)
	return in
}

func (in *threatsInput) Connect(ctx context.Context) error {
	return in.queue.Connect(ctx, in.open)
}

// open loads every source's checkpoint and returns the work of the input: one runner per
// source.
func (in *threatsInput) open(ctx context.Context) (func(context.Context), error) {
	if in.cfg.checkpointName == "" {
		in.log.Warnf("no checkpoint_cache: feed positions live in memory, so a restart reads the last %v again", in.cfg.lookback)
	}
	sources := in.sources()
	in.refusedMu.Lock()
	in.nSources = len(sources)
	in.refusedMu.Unlock()
	runners := make([]*sourceRunner, 0, len(sources))
	for _, src := range sources {
		st, ok, err := in.store.load(ctx, src.name())
		if err != nil {
			// A corrupt or foreign checkpoint must not stop the input for good, but it must be
			// loud: the feed restarts at its lookback.
			in.log.Errorf("%s: %v; starting at the lookback", src.name(), err)
		}
		if !ok {
			st = src.start(in.now(), in.cfg.lookback)
		}
		runners = append(runners, newSourceRunner(in, src, st))
	}
	return func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, r := range runners {
			wg.Go(func() { r.run(ctx) })
		}
		wg.Wait()
	}, nil
}

// refusal records that source's last poll was refused for good (err: its credentials or its
// permission) or was not (nil). While every source is refused the input cannot deliver
// anything, and says so: Benthos then shows it as not connected, in /ready and its metrics.
func (in *threatsInput) refusal(source string, err error) {
	in.refusedMu.Lock()
	defer in.refusedMu.Unlock()
	if err == nil {
		delete(in.refused, source)
	} else {
		in.refused[source] = err
	}
	if in.nSources == 0 || len(in.refused) < in.nSources {
		in.queue.SetFailing(nil)
		return
	}
	// The first source by name, so that the reason does not flip between sources.
	first := slices.Min(slices.Collect(maps.Keys(in.refused)))
	in.queue.SetFailing(fmt.Errorf("every feed is refused: %s: %w", first, in.refused[first]))
}

func (in *threatsInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	return in.queue.ReadBatch(ctx)
}

func (in *threatsInput) Close(ctx context.Context) error {
	defer in.cfg.conn.Close()
	return in.queue.Stop(ctx)
}
