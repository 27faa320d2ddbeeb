package archive

import (
	"context"
	"sync/atomic"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/budget"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// emitPage fetches the content of jobs, request_concurrency at a time, and sends the messages
// in page order, in batches of at most maxArchiveBatchBytes; the last batch carries commit.
// Fetched emails wait in memory only until their turn: at most request_concurrency of them.
//
// Every fetch first reserves its email's size in the input's max_bytes_in_flight budget, and
// the bytes stay reserved until the batch holding them is acknowledged. While a fetch waits for
// the budget, the batch being built is sent as it is: every mailbox waiting for the budget then
// holds nothing but batches the pipeline will acknowledge and fetches that will finish, so the
// budget always frees up and no mailbox waits for another forever.
func (r *mailboxRun) emitPage(ctx context.Context, jobs []*mimecast.ArchiveItem, lead service.MessageBatch, commit *mailboxCommit) error {
	ctx, cancel := context.WithCancel(ctx)
	f := r.startFetches(ctx, jobs)
	batch, size := lead, 0
	var held int64 // budget bytes of batch
	consumed := 0
	defer func() {
		cancel()
		f.drain(consumed)
		r.in.budget.Release(held)
	}()
	flush := func(c *mailboxCommit) error {
		b, h := batch, held
		batch, size, held = nil, 0, 0
		return r.send(ctx, b, h, c)
	}
	flushWhileStarving := func() error {
		if held == 0 {
			return nil
		}
		return flush(nil)
	}
	for i := range jobs {
		res, err := f.await(ctx, i, flushWhileStarving)
		if err != nil {
			return err
		}
		consumed = i + 1
		held += int64(res.bytes)
		if res.retry != nil {
			// Nothing of this page after the last batch sent is committed: the next crawl
			// resumes at this page.
			r.in.metrics.fetchErrors.Incr(1)
			r.in.log.Warnf("%s: fetching the content of %s failed, trying again in the next crawl: %v", r.mailbox, res.retryID, res.retry)
			return res.retry
		}
		batch = append(batch, res.msgs...)
		size += res.bytes
		if size >= maxArchiveBatchBytes && i < len(jobs)-1 {
			if err := flush(nil); err != nil {
				return err
			}
		}
	}
	return flush(commit)
}

// pageFetches are the content fetches of one page: a dispatcher starts them in page order, at
// most request_concurrency at a time and each once its email's bytes are reserved in the
// budget, and await hands their results over in page order.
type pageFetches struct {
	budget     *budget.Bytes
	results    []chan emailResult
	sem        chan struct{}
	starving   atomic.Bool   // the next fetch waits for the budget
	starved    chan struct{} // wakes await when starving is set
	dispatched chan int      // how many fetches were started, once no more will be
}

func (r *mailboxRun) startFetches(ctx context.Context, jobs []*mimecast.ArchiveItem) *pageFetches {
	f := &pageFetches{
		budget:     r.in.budget,
		results:    make([]chan emailResult, len(jobs)),
		sem:        make(chan struct{}, r.in.cfg.requestConc),
		starved:    make(chan struct{}, 1),
		dispatched: make(chan int, 1),
	}
	for i := range f.results {
		f.results[i] = make(chan emailResult, 1)
	}
	go f.dispatch(ctx, r, jobs)
	return f
}

func (f *pageFetches) dispatch(ctx context.Context, r *mailboxRun, jobs []*mimecast.ArchiveItem) {
	n := 0
	defer func() { f.dispatched <- n }()
	for i, it := range jobs {
		select {
		case f.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		reserved := emailReservation(it)
		if !f.budget.TryAcquire(reserved) {
			f.starving.Store(true)
			select {
			case f.starved <- struct{}{}:
			default:
			}
			err := f.budget.Acquire(ctx, reserved)
			f.starving.Store(false)
			if err != nil {
				return
			}
		}
		n++
		go func() {
			res := r.in.fetchEmail(ctx, r.p, r.mailbox, it)
			// The reservation was a guess: hold what the result really holds.
			f.budget.Add(int64(res.bytes) - reserved)
			f.results[i] <- res
		}()
	}
}

// await returns the result of fetch i and frees its concurrency slot. When it is about to
// block while the dispatcher waits for the budget, it calls flush first; results already
// there join the batch being built.
func (f *pageFetches) await(ctx context.Context, i int, flush func() error) (emailResult, error) {
	for {
		select {
		case res := <-f.results[i]:
			<-f.sem
			return res, nil
		default:
		}
		if f.starving.Load() {
			if err := flush(); err != nil {
				return emailResult{}, err
			}
		}
		select {
		case res := <-f.results[i]:
			<-f.sem
			return res, nil
		case <-f.starved:
		case <-ctx.Done():
			return emailResult{}, ctx.Err()
		}
	}
}

// drain gives back the bytes of the fetches that were started and not consumed, waiting for
// them (cancelled, they end promptly). The context of startFetches must be cancelled first.
func (f *pageFetches) drain(consumed int) {
	for n := <-f.dispatched; consumed < n; consumed++ {
		f.budget.Release(int64((<-f.results[consumed]).bytes))
	}
}

// emailReservation is what fetching it reserves of max_bytes_in_flight: its size from the
// search hit, which bounds its decoded attachments and bodies (base64 shrinks them), or
// emailReserve when the hit has none. Once fetched, the email holds what it really holds.
func emailReservation(it *mimecast.ArchiveItem) int64 {
	if it.Size > 0 {
		return it.Size
	}
	return emailReserve
}

// emailReserve is the reservation of an email whose size the search did not give.
const emailReserve = 256 << 10

// send hands a batch to ReadBatch (an empty one only records its commit) and blocks while
// archiveBatchesInFlight batches of the mailbox wait for acknowledgement. held is the batch's
// bytes in the input's budget, released once the batch was acknowledged or could not be sent.
func (r *mailboxRun) send(ctx context.Context, batch service.MessageBatch, held int64, commit *mailboxCommit) error {
	ticket, _ := r.committer.Add(r.committer.Generation())
	if len(batch) == 0 {
		r.in.budget.Release(held)
		_ = r.committer.Done(context.Background(), ticket, commit)
		return nil
	}
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		r.in.budget.Release(held)
		return ctx.Err()
	}
	r.p.acks.Add(1)
	ack := func(_ context.Context, err error) error {
		defer r.p.acks.Done()
		<-r.slots
		r.in.budget.Release(held)
		if err != nil {
			// Everything from this batch on is read again in the next crawl: the checkpoint
			// cannot move past it any more in this one.
			r.p.incomplete.Store(true)
			r.in.log.Debugf("%s: a batch was rejected (%v); the mailbox is read again from its checkpoint", r.mailbox, err)
			return nil
		}
		return r.committer.Done(context.Background(), ticket, commit)
	}
	if err := r.in.queue.Send(ctx, batch, ack); err != nil {
		<-r.slots
		r.p.acks.Done()
		r.in.budget.Release(held)
		return err
	}
	return nil
}
