package input

import (
	"context"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// threatsInput is the mimecast_threats BatchInput. Connect loads every source's checkpoint and
// starts one runner per source; runners hand chunks to ReadBatch through batches.
type threatsInput struct {
	cfg     *threatsConfig
	mgr     *service.Resources
	log     *service.Logger
	metrics threatsMetrics
	store   *checkpointStore
	now     func() time.Time
	batches chan pendingBatch

	lifecycle
	content *contentFetcher
}

type pendingBatch struct {
	batch service.MessageBatch
	ack   service.AckFunc
}

func newThreatsInput(cfg *threatsConfig, mgr *service.Resources) *threatsInput {
	in := &threatsInput{
		cfg:       cfg,
		mgr:       mgr,
		log:       mgr.Logger(),
		metrics:   newThreatsMetrics(mgr.Metrics()),
		store:     newCheckpointStore(mgr, cfg.checkpointName, cfg.checkpointKey),
		now:       time.Now,
		batches:   make(chan pendingBatch),
		lifecycle: newLifecycle(),
	}
	in.content = newContentFetcher(in)
	return in
}

func (in *threatsInput) Connect(ctx context.Context) error {
	in.connMu.Lock()
	defer in.connMu.Unlock()
	if in.started {
		return nil
	}
	if in.cfg.checkpointName == "" {
		in.log.Warnf("no checkpoint_cache: feed positions live in memory, so a restart reads the last %v again", in.cfg.lookback)
	}
	sources := in.sources()
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
	// Runners live until Close, not until Connect's context ends.
	ctx, cancel := in.shutSig.SoftStopCtx(context.Background())
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.run(ctx)
		}()
	}
	go func() {
		wg.Wait()
		cancel()
		in.shutSig.TriggerHasStopped()
	}()
	in.started = true
	return nil
}

func (in *threatsInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	if !in.isStarted() {
		return nil, nil, service.ErrNotConnected
	}
	select {
	case b := <-in.batches:
		return b.batch, b.ack, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-in.shutSig.SoftStopChan():
		return nil, nil, service.ErrEndOfInput
	}
}

func (in *threatsInput) Close(ctx context.Context) error {
	defer in.cfg.conn.Close()
	return in.stop(ctx)
}
