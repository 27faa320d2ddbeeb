package threats

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/batchinput"
	"github.com/mimecast-connect/mimecast-connect/internal/checkpoint"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// sourceRunner polls one threatSource: sequential reads, up to max_pages_in_flight chunks
// waiting for acknowledgement, and a checkpoint that moves only past chunks that were all
// acknowledged.
//
// Two states are kept: the read state (where the next read starts, and every id handed to the
// pipeline) runs ahead of the committed state (what is saved, kept by the committer). A nack
// resets the read state to the committed one, so nothing unacknowledged is ever skipped.
type sourceRunner struct {
	in        *threatsInput
	src       threatSource
	slots     chan struct{} // one token per unacknowledged chunk
	committer *checkpoint.Committer[feedState]

	mu      sync.Mutex
	read    feedState
	seen    map[string]int64
	pruned  time.Time  // the horizon seen was last pruned to
	resetTo *feedState // set by a nack: the committed state the read state goes back to

	// Owned by the run goroutine: the failed polls since the last good one, so that an outage
	// is logged when it starts, now and then while it lasts, and when it ends, not on every try.
	forbidden bool
	failures  int
	warnedAt  time.Time
	refused   bool // the input was told this source is refused

	// Owned by save, which the committer calls one at a time: the failed saves in a row.
	saveFailures int
	saveWarnedAt time.Time
}

// The checkpoint of a feed read in slices holds the ids of every open slice, tens of thousands
// in a large backlog, and writing it after every page cost more than reading the page. So a
// checkpoint of paceFrom ids or more waits until savePace times as long as the last write took
// has passed (at most maxSaveDelay): writes then take a twentieth of the time at most, and a
// crash reads again at most that stretch of acknowledged pages. A smaller checkpoint is written
// after every page, and the last one when the input stops.
const (
	savePace     = 20
	paceFrom     = 10_000
	maxSaveDelay = time.Second
)

// failureRelog is how often a failure that goes on is logged again at WARN.
const failureRelog = 5 * time.Minute

func newSourceRunner(in *threatsInput, src threatSource, st feedState) *sourceRunner {
	r := &sourceRunner{
		in:    in,
		src:   src,
		slots: make(chan struct{}, in.cfg.maxPagesInFlight),
		read:  st.clone(),
		seen:  maps.Clone(st.Seen),
	}
	r.committer = checkpoint.NewCommitter(st.clone(), r.save)
	r.committer.Pace(savePace, maxSaveDelay, func(st feedState) bool { return len(st.Seen) >= paceFrom })
	if r.seen == nil {
		r.seen = map[string]int64{}
	}
	in.metrics.register(src.feed(), src.name())
	return r
}

// run polls until ctx is cancelled.
func (r *sourceRunner) run(ctx context.Context) {
	if c, ok := r.src.(interface{ close() }); ok {
		defer c.close()
	}
	defer func() {
		// What was acknowledged and not written yet because of the pace.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.committer.Close(ctx)
	}()
	backoff, saveBackoff := time.Second, time.Second
	for ctx.Err() == nil {
		if r.committer.Unsaved() {
			// The checkpoint cannot be written: read nothing new until it can, so that what a
			// restart reads again does not grow with the outage.
			if err := r.committer.Retry(ctx); err != nil {
				if !batchinput.Sleep(ctx, r.nextBackoff(&saveBackoff)) {
					return
				}
				continue
			}
		}
		saveBackoff = time.Second
		r.mu.Lock()
		if r.resetTo != nil {
			r.read = r.resetTo.clone()
			r.seen = maps.Clone(r.resetTo.Seen)
			if r.seen == nil {
				r.seen = map[string]int64{}
			}
			r.pruned = time.Time{}
			r.resetTo = nil
		}
		// The generation is read under mu with the read state: a nack resets both under mu.
		st, gen := r.read.clone(), r.committer.Generation()
		r.mu.Unlock()

		caughtUp, err := r.poll(ctx, gen, st)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, errStaleGeneration) {
				continue
			}
			var wait time.Duration
			var handled *handledError
			if errors.As(err, &handled) {
				// The source logged and counted it: only back off, by its streak.
				b := r.streakBackoff(handled.streak)
				wait = r.nextBackoff(&b)
			} else {
				wait = r.fetchFailed(err, &backoff)
			}
			if !batchinput.Sleep(ctx, wait) {
				return
			}
			continue
		}
		backoff = time.Second
		if r.failures > 0 {
			r.in.log.Infof("%s: polling works again after %d failed %s", r.src.name(), r.failures, plural(r.failures, "poll", "polls"))
			r.failures, r.forbidden = 0, false
			r.in.metrics.authFailing.Set(0, r.src.feed(), r.src.name())
			r.refuse(nil)
		}
		if caughtUp && !batchinput.Sleep(ctx, r.in.cfg.pollInterval) {
			return
		}
	}
}

// poll reads the page after st and emits its chunks; the read state moves to where the source
// says the next read starts.
func (r *sourceRunner) poll(ctx context.Context, gen uint64, st feedState) (caughtUp bool, err error) {
	var next *feedState
	// The read state moves to the last state read, also when the read then failed: a source
	// yields a state before its error when the failure changes where to read next.
	defer func() {
		if next != nil {
			r.mu.Lock()
			if r.committer.Generation() == gen {
				r.read = *next
			}
			r.mu.Unlock()
		}
	}()
	for c, err := range r.src.read(ctx, st) {
		if err != nil {
			return false, err
		}
		if len(c.records) > 0 || c.commit || c.caughtUp {
			// An answer came: no longer refused. Said before the chunk is sent, which waits
			// for an input that is not failing.
			r.refuse(nil)
		}
		if len(c.records) > 0 || c.commit {
			if err := r.emit(ctx, gen, c); err != nil {
				return false, err
			}
		}
		if c.state != nil {
			next = c.state
		}
		caughtUp = c.caughtUp
	}
	return caughtUp, nil
}

// refuse records whether the source is refused for good (err) or not (nil) with the input.
func (r *sourceRunner) refuse(err error) {
	if err == nil && !r.refused {
		return
	}
	r.refused = err != nil
	r.in.refusal(r.src.name(), err)
}

// fetchFailed logs and counts a failed fetch and says how long to wait before the next try. The
// first failure of a run of them is a warning (an ERROR when Mimecast refuses the credentials or
// the permission, or cannot be reached at all); repeats are debug lines, with an ERROR every
// failureRelog while it lasts.
func (r *sourceRunner) fetchFailed(err error, backoff *time.Duration) time.Duration {
	log := r.in.log
	r.in.metrics.fetchErrors.Incr(1, r.src.feed())
	r.failures++
	var apiErr *mimecast.APIError
	if errors.As(err, &apiErr) && apiErr.Forbidden() {
		// A missing product or permission does not fix itself soon: say so once, then look again
		// now and then so that granting it takes effect without a restart.
		refused := fmt.Errorf("Mimecast refused access (%w): %s", err, mimecast.ForbiddenHint(apiErr.Endpoint))
		if !r.forbidden {
			log.Errorf("%s: %v; retrying every %v", r.src.name(), refused, forbiddenRetry)
		}
		r.forbidden = true
		r.refuse(refused)
		return forbiddenRetry
	}
	r.forbidden = false
	if errors.As(err, &apiErr) && apiErr.Unauthorized() {
		refused := fmt.Errorf("Mimecast refused the credentials (%w): check client_id and client_secret, and that the API application is enabled", err)
		r.refuse(refused)
		// Refused credentials do not heal by waiting: an ERROR when it starts and every
		// failureRelog while it lasts, and the auth_failing gauge, with the usual back-off so
		// that a fixed secret (a rotated one, a restored application) takes effect.
		r.in.metrics.authFailing.Set(1, r.src.feed(), r.src.name())
		if now := time.Now(); r.failures == 1 || now.Sub(r.warnedAt) >= failureRelog {
			log.Errorf("%s: %v; retrying in %v", r.src.name(), refused, *backoff)
			r.warnedAt = now
		}
		return r.nextBackoff(backoff)
	}
	r.refuse(nil)
	switch now := time.Now(); {
	case r.failures == 1 && unreachable(err):
		log.Errorf("%s: Mimecast cannot be reached (%v): check api_url, and proxy_url or the firewall on the way; retrying in %v", r.src.name(), err, *backoff)
		r.warnedAt = now
	case r.failures == 1:
		log.Warnf("%s: polling failed, retrying in %v: %v", r.src.name(), *backoff, err)
		r.warnedAt = now
	case now.Sub(r.warnedAt) >= failureRelog:
		// Minutes of failures in a row are no longer a passing fault.
		log.Errorf("%s: polling still fails after %d tries, retrying in %v: %v", r.src.name(), r.failures, *backoff, err)
		r.warnedAt = now
	default:
		log.Debugf("%s: polling failed again (%d tries), retrying in %v: %v", r.src.name(), r.failures, *backoff, err)
	}
	return r.nextBackoff(backoff)
}

// unreachable says whether err is the API's host not being there: a name that does not
// resolve, or nothing listening at its address. Either is more likely a wrong api_url or a
// blocked path than a passing fault.
func unreachable(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// streakBackoff is the back-off after the n-th failure of a streak a source handles itself:
// a second, doubling, up to max(poll_interval, 1s) as every back-off of the runner.
func (r *sourceRunner) streakBackoff(n int) time.Duration {
	return min(time.Second<<min(max(n-1, 0), 16), r.maxBackoff())
}

// maxBackoff is the longest wait after a failure.
func (r *sourceRunner) maxBackoff() time.Duration { return max(r.in.cfg.pollInterval, time.Second) }

// nextBackoff is how long to wait after a failure: backoff, which then doubles up to
// max(poll_interval, 1s). The first wait of a streak is exactly a second; later ones are
// jittered by up to a quarter either way, so that sources failing together spread out.
func (r *sourceRunner) nextBackoff(backoff *time.Duration) time.Duration {
	wait := *backoff
	if wait > time.Second {
		wait += time.Duration(rand.Int64N(int64(wait/2))) - wait/4
	}
	*backoff = min(*backoff*2, r.maxBackoff())
	return wait
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

const forbiddenRetry = 10 * time.Minute

// emit dedupes, selects, filters and sends a chunk; it blocks while max_pages_in_flight chunks
// of this source wait for acknowledgement.
func (r *sourceRunner) emit(ctx context.Context, gen uint64, c chunk) error {
	batch, commit, ticket, ok := r.admit(gen, c)
	if !ok {
		return errStaleGeneration
	}
	if len(batch) == 0 {
		_ = r.committer.Done(context.Background(), ticket, commit)
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
	size := batchBytes(batch)
	if err := r.in.budget.Acquire(ctx, size); err != nil {
		<-r.slots
		return err
	}
	release := func() {
		r.in.budget.Release(size)
		<-r.slots
	}
	// A nack may have reset the read state while this chunk waited for a slot: it would only be
	// read again, so drop it here rather than deliver it twice.
	if !r.committer.Current(ticket) {
		release()
		return errStaleGeneration
	}
	ack := func(ctx context.Context, err error) error {
		release()
		if err != nil {
			r.nacked(ticket)
			return nil
		}
		// A failed save is logged by save and retried by the run loop, which stops reading
		// meanwhile: the acknowledgement itself went through.
		_ = r.committer.Done(context.Background(), ticket, commit)
		return nil
	}
	if err := r.in.queue.Send(ctx, batch, ack); err != nil {
		release()
		return err
	}
	return nil
}

// batchBytes is what a batch holds, for max_bytes_in_flight: its bodies.
func batchBytes(batch service.MessageBatch) int64 {
	var n int64
	for _, m := range batch {
		if b, err := m.AsBytes(); err == nil {
			n += int64(len(b))
		}
	}
	return n
}

// admit turns a chunk into the messages to send, and the state to commit with them (its Seen
// pruned to the ids that can still be read again), unless a nack reset the read state since gen.
func (r *sourceRunner) admit(gen uint64, c chunk) (service.MessageBatch, *feedState, checkpoint.Ticket, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.committer.Generation() != gen {
		return nil, nil, checkpoint.Ticket{}, false
	}
	batch := make(service.MessageBatch, 0, len(c.records))
	for i := range c.records {
		if msg := r.in.admit(r.src, &c.records[i], r.seen); msg != nil {
			batch = append(batch, msg)
		}
	}
	var commit *feedState
	if c.commit {
		st := c.state.clone()
		// Pruned when the horizon moved: a backlog keeps many ids, and its cursor moves only
		// when its oldest slice was read.
		if horizon := st.Cursor.Add(-r.in.cfg.overlap - time.Minute); horizon.After(r.pruned) {
			st.Seen = r.seen
			st.prune(horizon)
			r.pruned = horizon
		}
		st.Seen = maps.Clone(r.seen)
		commit = &st
	}
	ticket, ok := r.committer.Add(gen)
	return batch, commit, ticket, ok
}

var errStaleGeneration = errors.New("read state was reset after a nack")

// save writes a committed state; the committer calls it once every chunk before it was
// acknowledged.
func (r *sourceRunner) save(ctx context.Context, st feedState) error {
	r.in.metrics.lag.Set(int64(time.Since(st.Cursor).Seconds()), r.src.feed(), r.src.name())
	if err := r.in.store.save(ctx, r.src.name(), st); err != nil {
		r.in.metrics.checkpointErrors.Incr(1, r.src.feed())
		r.saveFailures++
		switch now := time.Now(); {
		case r.saveFailures == 1:
			r.in.log.Errorf("%s: saving the checkpoint failed: %v; reading stops until it can be written", r.src.name(), err)
			r.saveWarnedAt = now
		case now.Sub(r.saveWarnedAt) >= failureRelog:
			r.in.log.Errorf("%s: saving the checkpoint still fails after %d tries: %v", r.src.name(), r.saveFailures, err)
			r.saveWarnedAt = now
		default:
			r.in.log.Debugf("%s: saving the checkpoint failed again (%d tries): %v", r.src.name(), r.saveFailures, err)
		}
		return err
	}
	if r.saveFailures > 0 {
		r.in.log.Infof("%s: the checkpoint is written again after %d failed %s; reading goes on", r.src.name(), r.saveFailures, plural(r.saveFailures, "try", "tries"))
		r.saveFailures = 0
	}
	return nil
}

// nacked resets the read state to the committed one: the unacknowledged chunks are read again.
func (r *sourceRunner) nacked(t checkpoint.Ticket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.committer.Current(t) {
		return
	}
	_, st, ok := r.committer.Reset(r.committer.Generation())
	if !ok {
		return
	}
	// Reset is only called under mu, so a reader holding mu sees the generation and the read
	// state change together.
	r.resetTo = &st
	r.in.log.Debugf("%s: a batch was rejected; reading again from the last checkpoint", r.src.name())
}
