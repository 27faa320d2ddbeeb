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
//
// The size is the search's word, and a fetch charges what it keeps as it reads it: one that
// outgrows its reservation when the budget has no room left gives up, and the email is fetched
// again alone (fetchAlone), so no search hit can take memory past the budget.
func (r *mailboxRun) emitPage(ctx context.Context, jobs []*mimecast.ArchiveItem, lead service.MessageBatch, commit *mailboxCommit) error {
	e := &pageEmitter{r: r, jobs: jobs, batch: lead}
	defer func() { r.in.budget.Release(e.held) }()
	for start := 0; start < len(jobs); {
		var err error
		if start, err = e.fetchRun(ctx, jobs, start); err != nil {
			return err
		}
	}
	return e.flush(ctx, commit)
}

// pageEmitter builds the batches of one page.
type pageEmitter struct {
	r     *mailboxRun
	jobs  []*mimecast.ArchiveItem
	added int // jobs whose messages are in batch or were sent
	batch service.MessageBatch
	size  int
	held  int64 // budget bytes of batch
}

func (e *pageEmitter) flush(ctx context.Context, c *mailboxCommit) error {
	b, h := e.batch, e.held
	e.batch, e.size, e.held = nil, 0, 0
	return e.r.send(ctx, b, h, c)
}

// flushHeld sends the batch being built if it holds any of the budget.
func (e *pageEmitter) flushHeld(ctx context.Context) error {
	if e.held == 0 {
		return nil
	}
	return e.flushPart(ctx)
}

// flushPart sends the batch being built before the end of the page.
func (e *pageEmitter) flushPart(ctx context.Context) error {
	return e.flush(ctx, e.r.partialCommit(e.jobs[e.added:]))
}

// fetchRun fetches jobs[start:] concurrently and adds their messages to the batch in page
// order, up to the end of the page or up to an email whose content outgrew its reservation:
// the fetches after it are cancelled, it is fetched again alone, and the run returns the index
// after it for the next run to go on from.
func (e *pageEmitter) fetchRun(ctx context.Context, jobs []*mimecast.ArchiveItem, start int) (int, error) {
	runCtx, cancel := context.WithCancel(ctx)
	f := e.r.startFetches(runCtx, jobs[start:])
	consumed, drained := 0, false
	stop := func() {
		if !drained {
			cancel()
			f.drain(consumed)
			drained = true
		}
	}
	defer stop()
	for i := start; i < len(jobs); i++ {
		res, err := f.await(runCtx, i-start, func() error { return e.flushHeld(ctx) })
		if err != nil {
			return 0, err
		}
		consumed = i - start + 1
		if res.overReservation {
			// What the fetches after it hold must come back before it can be fetched alone.
			stop()
			if res, err = e.fetchAlone(ctx, jobs[i]); err != nil {
				return 0, err
			}
			return i + 1, e.add(ctx, res, i == len(jobs)-1)
		}
		if err := e.add(ctx, res, i == len(jobs)-1); err != nil {
			return 0, err
		}
	}
	return len(jobs), nil
}

// add puts an email's messages into the batch, sending the batch when it is full and more
// follow.
func (e *pageEmitter) add(ctx context.Context, res emailResult, last bool) error {
	e.held += int64(res.bytes)
	if res.retry != nil {
		// Nothing of this page after the last batch sent is committed: the next crawl
		// resumes at this page.
		e.r.in.metrics.fetchErrors.Incr(1)
		e.r.in.log.Warnf("%s: fetching the content of %s failed, trying again in the next crawl: %v", e.r.mailbox, res.retryID, res.retry)
		return res.retry
	}
	e.batch = append(e.batch, res.msgs...)
	e.added++
	e.size += res.bytes
	if e.size >= maxArchiveBatchBytes && !last {
		return e.flushPart(ctx)
	}
	return nil
}

// fetchAlone fetches again an email whose content outgrew its reservation while the budget had
// no room for more (its search hit understated its size). It sends the batch built so far, so
// that the mailbox holds nothing the pipeline will not give back, waits until nothing else
// holds any of the budget, and fetches the email with a grant that grows without asking: as an
// email larger than the whole budget is fetched. Waiting for more with the first try's bytes
// still held could let two such fetches wait for each other forever.
func (e *pageEmitter) fetchAlone(ctx context.Context, it *mimecast.ArchiveItem) (emailResult, error) {
	in := e.r.in
	in.metrics.refetchedAlone.Incr(1)
	in.log.Debugf("%s: the content of %s holds more than the size its search hit gave (%d bytes); fetching it again alone", e.r.mailbox, it.MimecastID, it.Size)
	if err := e.flushHeld(ctx); err != nil {
		return emailResult{}, err
	}
	whole := max(in.budget.Limit(), 1)
	if err := in.budget.Acquire(ctx, whole); err != nil {
		return emailResult{}, err
	}
	g := &grant{budget: in.budget, held: whole, alone: true}
	res := in.fetchEmail(ctx, e.r.p, e.r.mailbox, it, g)
	in.budget.Add(int64(res.bytes) - g.held)
	return res, nil
}

// grant is what one fetch holds of the input's budget: its reservation, grown while the
// content kept turns out larger.
type grant struct {
	budget *budget.Bytes
	held   int64 // bytes of the budget held
	used   int64 // bytes of content kept so far
	alone  bool  // nothing else holds any of the budget: grow without asking
}

// grantStep is the least a grant grows by, so that a large attachment does not take the
// budget's lock for every chunk it reads.
const grantStep = 1 << 20

// charge accounts for n more bytes of content kept. It reports false when they do not fit in
// what is held and the budget has no room for more now: the fetch must then give up. A nil
// grant is a fetch outside any budget.
func (g *grant) charge(n int64) bool {
	if g == nil {
		return true
	}
	g.used += n
	if g.used <= g.held {
		return true
	}
	more := max(g.used-g.held, grantStep)
	if g.alone {
		g.budget.Add(more)
	} else if !g.budget.TryAcquire(more) {
		return false
	}
	g.held += more
	return true
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
			g := &grant{budget: f.budget, held: reserved}
			res := r.in.fetchEmail(ctx, r.p, r.mailbox, it, g)
			// The reservation was a guess: hold what the result really holds (nothing, for
			// a fetch that gave up).
			f.budget.Add(int64(res.bytes) - g.held)
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
