package input

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// sourceRunner polls one threatSource: sequential fetches, up to maxInFlight chunks waiting for
// acknowledgement, and a checkpoint that moves only past chunks that were all acknowledged.
//
// Two states are kept: the read state (where the next fetch starts, and every id handed to the
// pipeline) runs ahead of the committed state (what is saved). A nack resets the read state to
// the committed one, so nothing unacknowledged is ever skipped.
type sourceRunner struct {
	in    *threatsInput
	src   threatSource
	slots chan struct{} // one token per unacknowledged chunk

	mu        sync.Mutex
	gen       uint64 // bumped by a nack reset; acks of an older generation commit nothing
	read      feedState
	seen      map[string]int64
	committed feedState
	tracker   ackTracker[feedState]
	resetReq  bool

	saveMu   sync.Mutex
	savedSeq uint64

	// Owned by the run goroutine: the failed polls since the last good one, so that an outage
	// is logged when it starts, now and then while it lasts, and when it ends, not on every try.
	forbidden bool
	failures  int
	warnedAt  time.Time
}

// failureRelog is how often a failure that goes on is logged again at WARN.
const failureRelog = 5 * time.Minute

func newSourceRunner(in *threatsInput, src threatSource, st feedState) *sourceRunner {
	r := &sourceRunner{
		in:        in,
		src:       src,
		slots:     make(chan struct{}, in.cfg.maxInFlight),
		read:      st.clone(),
		committed: st.clone(),
		seen:      maps.Clone(st.Seen),
	}
	if r.seen == nil {
		r.seen = map[string]int64{}
	}
	return r
}

// run polls until ctx is cancelled.
func (r *sourceRunner) run(ctx context.Context) {
	if c, ok := r.src.(interface{ close() }); ok {
		defer c.close()
	}
	backoff := time.Second
	for ctx.Err() == nil {
		r.mu.Lock()
		if r.resetReq {
			r.resetReq = false
			r.read = r.committed.clone()
			r.seen = maps.Clone(r.committed.Seen)
			if r.seen == nil {
				r.seen = map[string]int64{}
			}
		}
		st, gen := r.read.clone(), r.gen
		r.mu.Unlock()

		next, caughtUp, err := r.src.fetch(ctx, st, func(ctx context.Context, recs []threatRecord, commit *feedState) error {
			return r.emit(ctx, gen, recs, commit)
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, errStaleGeneration) {
				continue
			}
			wait := r.fetchFailed(err, &backoff)
			if !sleepCtx(ctx, wait) {
				return
			}
			continue
		}
		backoff = time.Second
		if r.failures > 0 {
			r.in.log.Infof("%s: polling works again after %d failed %s", r.src.name(), r.failures, plural(r.failures, "poll", "polls"))
			r.failures, r.forbidden = 0, false
		}
		r.mu.Lock()
		if r.gen == gen {
			r.read = next
		}
		r.mu.Unlock()
		if caughtUp && !sleepCtx(ctx, r.in.cfg.pollInterval) {
			return
		}
	}
}

// fetchFailed logs and counts a failed fetch and says how long to wait before the next try. The
// first failure of a run of them is a warning; repeats are debug lines, with a warning again
// every failureRelog while it lasts.
func (r *sourceRunner) fetchFailed(err error, backoff *time.Duration) time.Duration {
	log := r.in.log
	r.in.metrics.fetchErrors.Incr(1, r.src.feed())
	r.failures++
	var apiErr *mimecast.APIError
	if errors.As(err, &apiErr) && apiErr.Forbidden() {
		// A missing product or permission does not fix itself soon: say so once, then look again
		// now and then so that granting it takes effect without a restart.
		if !r.forbidden {
			log.Errorf("%s: Mimecast refused access (%v): %s; retrying every %v", r.src.name(), err, mimecast.ForbiddenHint(apiErr.Endpoint), forbiddenRetry)
		}
		r.forbidden = true
		return forbiddenRetry
	}
	r.forbidden = false
	switch now := time.Now(); {
	case r.failures == 1:
		log.Warnf("%s: polling failed, retrying in %v: %v", r.src.name(), *backoff, err)
		r.warnedAt = now
	case now.Sub(r.warnedAt) >= failureRelog:
		log.Warnf("%s: polling still fails after %d tries, retrying in %v: %v", r.src.name(), r.failures, *backoff, err)
		r.warnedAt = now
	default:
		log.Debugf("%s: polling failed again (%d tries), retrying in %v: %v", r.src.name(), r.failures, *backoff, err)
	}
	wait := *backoff
	*backoff = min(*backoff*2, max(r.in.cfg.pollInterval, time.Second))
	return wait
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

const forbiddenRetry = 10 * time.Minute

// emit dedupes, selects, filters and sends a chunk; it blocks while maxInFlight chunks of this
// source wait for acknowledgement.
func (r *sourceRunner) emit(ctx context.Context, gen uint64, recs []threatRecord, commit *feedState) error {
	r.mu.Lock()
	if gen != r.gen {
		r.mu.Unlock()
		return errStaleGeneration
	}
	batch := make(service.MessageBatch, 0, len(recs))
	for i := range recs {
		if msg := r.in.admit(r.src, &recs[i], r.seen); msg != nil {
			batch = append(batch, msg)
		}
	}
	var cs *feedState
	if commit != nil {
		c := commit.clone()
		horizon := c.Cursor.Add(-r.in.cfg.overlap - time.Minute)
		c.Seen = r.seen
		c.prune(horizon)
		r.seen = c.Seen
		c.Seen = maps.Clone(r.seen)
		cs = &c
	}
	seq := r.tracker.add()
	r.mu.Unlock()

	if len(batch) == 0 {
		r.acked(gen, seq, cs)
		return nil
	}
	if r.in.cfg.contentView {
		r.in.addContent(ctx, batch)
	}
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	// A nack may have reset the read state while this chunk waited for a slot: it would only be
	// read again, so drop it here rather than deliver it twice.
	r.mu.Lock()
	stale := gen != r.gen
	r.mu.Unlock()
	if stale {
		<-r.slots
		return errStaleGeneration
	}
	ack := func(ctx context.Context, err error) error {
		<-r.slots
		if err != nil {
			r.nacked(gen)
			return nil
		}
		return r.acked(gen, seq, cs)
	}
	select {
	case r.in.batches <- pendingBatch{batch: batch, ack: ack}:
		return nil
	case <-ctx.Done():
		<-r.slots
		return ctx.Err()
	}
}

var errStaleGeneration = errors.New("read state was reset after a nack")

// acked records that chunk seq was delivered, and saves the newest state below which every chunk
// was delivered.
func (r *sourceRunner) acked(gen, seq uint64, commit *feedState) error {
	r.mu.Lock()
	if gen != r.gen {
		r.mu.Unlock()
		return nil
	}
	st, upTo, ok := r.tracker.done(seq, commit)
	if ok {
		r.committed = st
	}
	r.mu.Unlock()
	if !ok {
		return nil
	}
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	if upTo <= r.savedSeq {
		return nil // a later state was saved already
	}
	r.in.metrics.lag.Set(time.Since(st.Cursor).Milliseconds(), r.src.name())
	if err := r.in.store.save(context.Background(), r.src.name(), st); err != nil {
		r.in.metrics.checkpointErrors.Incr(1, r.src.feed())
		r.in.log.Errorf("%s: saving checkpoint: %v", r.src.name(), err)
		return err
	}
	r.savedSeq = upTo
	return nil
}

// nacked resets the read state to the committed one: the unacknowledged chunks are read again.
func (r *sourceRunner) nacked(gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if gen != r.gen {
		return
	}
	r.gen++
	// Sequence numbers keep counting across generations so that savedSeq stays comparable.
	r.tracker = ackTracker[feedState]{next: r.tracker.next, low: r.tracker.next}
	r.resetReq = true
	r.in.log.Debugf("%s: a batch was rejected; reading again from the last checkpoint", r.src.name())
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
