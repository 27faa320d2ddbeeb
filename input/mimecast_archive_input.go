package input

import (
	"context"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// archiveInput is the mimecast_archive BatchInput. Connect starts the crawler, which walks the
// directory and the mailboxes and hands batches to ReadBatch through batches; acknowledgements
// move the per-mailbox checkpoints.
type archiveInput struct {
	cfg     *archiveConfig
	mgr     *service.Resources
	log     *service.Logger
	metrics archiveMetrics
	store   *archiveStore
	now     func() time.Time
	batches chan pendingBatch
	budget  *byteBudget   // max_bytes_in_flight, shared by all mailboxes
	ended   chan struct{} // closed once end_date was reached and everything was acknowledged

	lifecycle

	forbiddenOnce sync.Once

	// contentFailures counts, per email, the crawls in a row that failed to fetch its content.
	contentMu       sync.Mutex
	contentFailures map[string]int

	// recrawl tracks ignore_delta_tokens within this run: which mailboxes have started (and
	// which finished) their re-crawl. Only the crawler goroutine and commit hooks touch it.
	recrawlMu      sync.Mutex
	recrawlStarted map[string]bool
	recrawlDone    map[string]bool
}

func newArchiveInput(cfg *archiveConfig, mgr *service.Resources) *archiveInput {
	return &archiveInput{
		cfg:            cfg,
		mgr:            mgr,
		log:            mgr.Logger(),
		metrics:        newArchiveMetrics(mgr.Metrics()),
		store:          newArchiveStore(mgr, cfg.checkpointName, cfg.checkpointKey),
		now:            time.Now,
		batches:        make(chan pendingBatch),
		budget:         newByteBudget(cfg.maxBytesInFlight),
		ended:          make(chan struct{}),
		lifecycle:      newLifecycle(),
		recrawlStarted: map[string]bool{},
		recrawlDone:    map[string]bool{},

		contentFailures: map[string]int{},
	}
}

func (in *archiveInput) Connect(context.Context) error {
	in.connMu.Lock()
	defer in.connMu.Unlock()
	if in.started {
		return nil
	}
	if in.cfg.checkpointName == "" {
		in.log.Warnf("no %s: checkpoints live in memory, so a restart crawls every mailbox again from %s", afCheckpointCache, describeStart(in.cfg.startDate))
	}
	// The crawler lives until Close, not until Connect's context ends.
	ctx, cancel := in.shutSig.SoftStopCtx(context.Background())
	go func() {
		defer func() {
			cancel()
			in.shutSig.TriggerHasStopped()
		}()
		in.crawl(ctx)
	}()
	in.started = true
	return nil
}

func describeStart(t time.Time) string {
	if t.IsZero() {
		return "the start of the archive"
	}
	return t.Format(time.RFC3339)
}

func (in *archiveInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	if !in.isStarted() {
		return nil, nil, service.ErrNotConnected
	}
	select {
	case b := <-in.batches:
		return b.batch, b.ack, nil
	case <-in.ended:
		return nil, nil, service.ErrEndOfInput
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-in.shutSig.SoftStopChan():
		return nil, nil, service.ErrEndOfInput
	}
}

func (in *archiveInput) Close(ctx context.Context) error {
	defer in.cfg.conn.Close()
	return in.stop(ctx)
}
