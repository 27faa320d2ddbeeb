package archive

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/batchinput"
	"github.com/mimecast-connect/mimecast-connect/internal/budget"
)

// archiveInput is the mimecast_archive BatchInput. Connect starts the crawler, which walks the
// directory and the mailboxes and hands batches to ReadBatch through the queue; acknowledgements
// move the per-mailbox checkpoints.
type archiveInput struct {
	cfg     *archiveConfig
	mgr     *service.Resources
	log     *service.Logger
	metrics archiveMetrics
	store   *archiveStore
	now     func() time.Time
	queue   *batchinput.Queue // ended once end_date was reached and everything was acknowledged
	budget  *budget.Bytes     // max_bytes_in_flight, shared by all mailboxes

	forbiddenOnce sync.Once
	// saveFailing is set while checkpoints cannot be written, so that an outage of the cache is
	// said once for all mailboxes, and its end once.
	saveFailing atomic.Bool

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
		queue:          batchinput.New(),
		budget:         budget.New(cfg.maxBytesInFlight),
		recrawlStarted: map[string]bool{},
		recrawlDone:    map[string]bool{},

		contentFailures: map[string]int{},
	}
}

func (in *archiveInput) Connect(ctx context.Context) error {
	return in.queue.Connect(ctx, func(context.Context) (func(context.Context), error) {
		if in.cfg.checkpointName == "" {
			in.log.Warnf("no %s: checkpoints live in memory, so a restart crawls every mailbox again from %s", afCheckpointCache, describeStart(in.cfg.startDate))
		}
		return in.crawl, nil
	})
}

func describeStart(t time.Time) string {
	if t.IsZero() {
		return "the start of the archive"
	}
	return t.Format(time.RFC3339)
}

func (in *archiveInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	return in.queue.ReadBatch(ctx)
}

func (in *archiveInput) Close(ctx context.Context) error {
	defer in.cfg.conn.Close()
	return in.queue.Stop(ctx)
}
