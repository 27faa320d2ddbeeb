package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
)

// The ceiling: a plain Go loop per source that asks for the same pages as mimecast_threats (same
// endpoints, filters, page sizes, one goroutine per source as the input's runners) and decodes
// them with the client, then forgets them. No ids, dedupe, messages, checkpoints or Benthos: what
// is left between it and mimecast_threats is what the input costs on top of fetching.

type ceilingSource struct {
	feed string
	// drain fetches every page of the source and returns the number of records decoded.
	drain func(ctx context.Context, c *mimecast.Client, from, to time.Time) (int64, error)
}

func ceilingSources(feeds, types []string) []ceilingSource {
	var out []ceilingSource
	for _, f := range feeds {
		switch f {
		case "threat_events":
			out = append(out, ceilingSource{f, drainThreatEvents})
		case "url_protect":
			out = append(out, ceilingSource{f, drainPages(func(ctx context.Context, c *mimecast.Client, from, to time.Time, tok string) (int, string, error) {
				p, err := c.URLClickLogsPage(ctx, mimecast.URLLogsRequest{From: from, To: to, OldestFirst: true}, tok)
				return len(p.Items), p.Next, err
			})})
		case "attachment_protect":
			out = append(out, ceilingSource{f, drainPages(func(ctx context.Context, c *mimecast.Client, from, to time.Time, tok string) (int, string, error) {
				p, err := c.AttachmentLogsPage(ctx, mimecast.AttachmentLogsRequest{From: from, To: to, OldestFirst: true}, tok)
				return len(p.Items), p.Next, err
			})})
		case "impersonation_protect":
			out = append(out, ceilingSource{f, drainPages(func(ctx context.Context, c *mimecast.Client, from, to time.Time, tok string) (int, string, error) {
				p, err := c.ImpersonationLogsPage(ctx, mimecast.ImpersonationLogsRequest{From: from, To: to, OldestFirst: true}, tok)
				return len(p.Items), p.Next, err
			})})
		case "siem":
			for _, t := range types {
				out = append(out, ceilingSource{"siem", drainSIEM(t)})
			}
		}
	}
	return out
}

type pageFunc func(ctx context.Context, c *mimecast.Client, from, to time.Time, token string) (int, string, error)

func drainPages(page pageFunc) func(context.Context, *mimecast.Client, time.Time, time.Time) (int64, error) {
	return func(ctx context.Context, c *mimecast.Client, from, to time.Time) (int64, error) {
		var n int64
		tok := ""
		for {
			got, next, err := page(ctx, c, from, to, tok)
			if err != nil {
				return n, err
			}
			n += int64(got)
			if next == "" {
				return n, nil
			}
			tok = next
		}
	}
}

func drainThreatEvents(ctx context.Context, c *mimecast.Client, from, to time.Time) (int64, error) {
	return drainPages(func(ctx context.Context, c *mimecast.Client, from, to time.Time, tok string) (int, string, error) {
		p, err := c.ThreatEventsPage(ctx, mimecast.ThreatEventsRequest{Start: from, End: to}, tok)
		return len(p.Items), p.Next, err
	})(ctx, c, from, to)
}

func drainSIEM(eventType string) func(context.Context, *mimecast.Client, time.Time, time.Time) (int64, error) {
	return func(ctx context.Context, c *mimecast.Client, from, _ time.Time) (int64, error) {
		var n int64
		tok := ""
		for {
			req := mimecast.SIEMBatchRequest{Type: eventType}
			if tok == "" {
				req.Start = from
			}
			list, err := c.SIEMBatchFilesPage(ctx, req, tok)
			if err != nil {
				return n, err
			}
			for _, f := range list.Files {
				got, err := readSIEMFile(ctx, c, f.URL)
				n += got
				if err != nil {
					return n, err
				}
			}
			if list.IsCaughtUp || len(list.Files) == 0 || list.NextPage == "" {
				return n, nil
			}
			tok = list.NextPage
		}
	}
}

func readSIEMFile(ctx context.Context, c *mimecast.Client, url string) (int64, error) {
	r, err := c.OpenBatchFile(ctx, url)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var n int64
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if ev.Err != nil {
			return n, fmt.Errorf("decoding siem event: %w", ev.Err)
		}
		n++
	}
}

// drainCeiling runs the ceiling loop over feeds and records it as one phase.
func drainCeiling(ctx context.Context, e *env, feeds, types []string, expected int64) error {
	start := e.begin()
	c, err := mimecast.New(mimecast.Config{
		APIURL: e.fake.URL, ClientID: fakeClientID, ClientSecret: fakeClientSecret, PageSize: apiPageSize,
	})
	if err != nil {
		return fmt.Errorf("building client: %w", err)
	}
	defer c.Close()
	now := time.Now()
	from := now.Add(-lookback)
	var (
		wg    sync.WaitGroup
		total atomic.Int64
		mu    sync.Mutex
		errs  []error
	)
	byFeed := map[string]int64{}
	for _, src := range ceilingSources(feeds, types) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := src.drain(ctx, c, from, now)
			total.Add(n)
			mu.Lock()
			defer mu.Unlock()
			byFeed[src.feed] += n
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", src.feed, err))
			}
		}()
	}
	wg.Wait()
	e.end(start, "ceiling (client loop)", total.Load(), expected)
	e.res.FeedEvents = byFeed
	if err := e.snapshotFake(ctx); err != nil {
		return err
	}
	return errors.Join(errs...)
}

func runThreatsCeiling(ctx context.Context, e *env) error {
	sources := int64(len(threatFeeds) - 1 + len(siemTypes))
	return drainCeiling(ctx, e, threatFeeds, siemTypes, sources*int64(e.plan.ThreatsPerSource))
}

func runURLCeiling(ctx context.Context, e *env) error {
	return drainCeiling(ctx, e, []string{"url_protect"}, nil, int64(e.plan.URLEvents))
}
