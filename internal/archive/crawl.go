package archive

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/batchinput"
	"github.com/mimecast-connect/mimecast-connect/internal/checkpoint"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// passRun is one crawl of every mailbox in scope, up to `to`.
type passRun struct {
	in *archiveInput
	to time.Time

	// acks counts batches handed to the pipeline and not yet acknowledged: a pass ends only
	// when every checkpoint it can move has moved.
	acks       checkpoint.Pending
	incomplete atomic.Bool // a mailbox failed or a batch was rejected: crawl again soon
	forbidden  atomic.Bool // content fetches answered 403 in this pass: emit metadata only
	// searchForbidden: the archive search answered 403 in this pass (logged once).
	searchForbidden atomic.Bool

	total       int
	done        atomic.Int64
	emails      atomic.Int64
	attachments atomic.Int64
	bytes       atomic.Int64
	deleted     atomic.Int64

	knownMu sync.Mutex
	known   map[string]bool
}

// crawl runs passes until the context ends or, with end_date, until a pass reached it cleanly.
func (in *archiveInput) crawl(ctx context.Context) {
	retry := time.Second
	for {
		p, err := in.pass(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := in.cfg.pollInterval
		switch {
		case err != nil:
			in.metrics.fetchErrors.Incr(1)
			in.log.Errorf("crawling the archive: %v; trying again in %v", err, retry)
			if refusedForGood(err) {
				// Nothing can be crawled until the credentials or the permission are fixed:
				// the input says so (not ready) until a pass can list the scope again.
				in.queue.SetFailing(fmt.Errorf("crawling the archive: %w", err))
			}
			wait, retry = retry, min(retry*2, in.cfg.pollInterval)
		case p.incomplete.Load():
			in.log.Warnf("some mailboxes were not crawled completely; crawling them again in %v", retry)
			wait, retry = retry, min(retry*2, in.cfg.pollInterval)
		case !in.cfg.endDate.IsZero() && p.to.Equal(in.cfg.endDate):
			in.log.Infof("every mailbox was crawled up to end_date %s: the input ends", in.cfg.endDate.Format(time.RFC3339))
			in.queue.End()
			return
		default:
			retry = time.Second
		}
		if !batchinput.Sleep(ctx, wait) {
			return
		}
	}
}

// pass lists the scope, produces the delete events of mailboxes that left it, crawls every
// mailbox in it and waits for every batch to be acknowledged.
func (in *archiveInput) pass(ctx context.Context) (*passRun, error) {
	now := in.now().UTC()
	p := &passRun{in: in, to: now.Truncate(time.Second)}
	if !in.cfg.endDate.IsZero() && !in.cfg.endDate.After(now) {
		p.to = in.cfg.endDate
	}
	scope, err := in.listScope(ctx)
	if err != nil {
		return p, err
	}
	in.queue.SetFailing(nil)
	known, err := in.store.loadKnown(ctx)
	if err != nil {
		// A set that cannot be read cannot say which mailboxes left; crawling must go on.
		in.metrics.checkpointErrors.Incr(1)
		in.log.Errorf("reading the set of crawled mailboxes (no delete events for mailboxes that left the scope this time): %v", err)
	}
	p.known = map[string]bool{}
	inScope := map[string]bool{}
	for _, mb := range scope.mailboxes {
		inScope[mb] = true
		p.known[mb] = true
	}
	var gone []string
	for _, mb := range known {
		p.known[mb] = true
		if !inScope[mb] {
			gone = append(gone, mb)
		}
	}
	if !scope.complete && len(gone) > 0 {
		in.log.Warnf("the directory listing had records that could not be decoded: %d mailboxes missing from it are not treated as gone this time", len(gone))
		gone = nil
	}
	if err := in.store.saveKnown(ctx, slices.Collect(maps.Keys(p.known))); err != nil {
		in.metrics.checkpointErrors.Incr(1)
		in.log.Errorf("saving the set of crawled mailboxes: %v", err)
	}
	p.total = len(scope.mailboxes)
	in.metrics.mailboxesTotal.Set(int64(p.total))
	in.metrics.mailboxesDone.Set(0)
	if len(gone) > 0 {
		in.log.Infof("%d mailboxes left the scope: emitting their delete events", len(gone))
	}

	stopProgress := p.logProgressEvery(ctx, in.cfg.progressInterval)
	var wg sync.WaitGroup
	runPool(ctx, &wg, in.cfg.deletionConc, gone, func(mb string) { in.deleteMailbox(ctx, p, mb) })
	runPool(ctx, &wg, in.cfg.mailboxConc, scope.mailboxes, func(mb string) {
		in.crawlMailbox(ctx, p, mb)
		in.metrics.mailboxesDone.Set(p.done.Add(1))
	})
	wg.Wait()
	if err := p.acks.Wait(ctx); err != nil {
		stopProgress()
		return p, err
	}
	stopProgress()
	p.logProgress("crawl finished")
	return p, nil
}

// refusedForGood says whether err is Mimecast refusing the credentials or the permission, which
// waiting does not heal.
func refusedForGood(err error) bool {
	var apiErr *mimecast.APIError
	return errors.As(err, &apiErr) && (apiErr.Unauthorized() || apiErr.Forbidden())
}

// runPool runs fn over items with n goroutines, adding them to wg.
func runPool(ctx context.Context, wg *sync.WaitGroup, n int, items []string, fn func(string)) {
	if len(items) == 0 {
		return
	}
	work := make(chan string)
	for range min(n, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for mb := range work {
				fn(mb)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(work)
		for _, mb := range items {
			select {
			case work <- mb:
			case <-ctx.Done():
				return
			}
		}
	}()
}

// forgetKnown drops a deleted mailbox from the set of crawled mailboxes and saves the set.
func (p *passRun) forgetKnown(mailbox string) {
	p.knownMu.Lock()
	defer p.knownMu.Unlock()
	delete(p.known, mailbox)
	if err := p.in.store.saveKnown(context.Background(), slices.Collect(maps.Keys(p.known))); err != nil {
		p.in.metrics.checkpointErrors.Incr(1)
		p.in.log.Errorf("saving the set of crawled mailboxes: %v", err)
	}
}

func (p *passRun) logProgress(what string) {
	p.in.log.Infof("archive %s: %d/%d mailboxes done, %d emails, %d attachments, %s, %d mailboxes deleted",
		what, p.done.Load(), p.total, p.emails.Load(), p.attachments.Load(), formatBytes(p.bytes.Load()), p.deleted.Load())
}

// formatBytes writes n in binary units with one decimal: 1536 is "1.5 KiB".
func formatBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}

// logProgressEvery logs the pass's progress every interval until the returned stop is called.
func (p *passRun) logProgressEvery(ctx context.Context, interval time.Duration) (stop func()) {
	if interval <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.logProgress("crawl in progress")
			case <-ctx.Done():
				return
			}
		}
	}()
	return cancel
}
