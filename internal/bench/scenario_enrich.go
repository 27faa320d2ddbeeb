package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// enrichFake is a tenant whose URL Protect clicks point at enough distinct tracked emails.
func enrichFake(p plan, anchor time.Time) fakeSpec {
	return fakeSpec{
		Seed: 5, Anchor: anchor, EventsPerFeed: 4 * p.EnrichIDs, Span: backlogSpan,
		Domains: 4, UsersPerDomain: 50, MessagesPerMailbox: 100,
	}
}

// Shape of the enrich pipeline: batches of enrichBatch events, enrichInFlight of them at once
// (as mimecast_threats' max_pages_in_flight would send them), the processor's default
// max_concurrency of 4 per batch, and a memory cache.
const (
	enrichBatch    = 50
	enrichInFlight = 4
)

const enrichResources = `cache_resources:
  - label: lookups
    memory:
      default_ttl: 1h
`

func enrichProcessorYAML(url string) string {
	return fmt.Sprintf(`mimecast_enrich:
  %s
  lookups: [tracking, message_info]
  cache: lookups
  cache_ttl: 1h
`, indentLines(connYAML(url), "  "))
}

// runEnrich looks up EnrichIDs distinct Message-IDs twice: cold (every id asks Mimecast), then
// warm (every id is in the cache).
func runEnrich(ctx context.Context, e *env) error {
	ids, err := trackedMessageIDs(ctx, e.fake.URL, e.plan.EnrichIDs)
	if err != nil {
		return err
	}
	if len(ids) < e.plan.EnrichIDs {
		e.note("the tenant's clicks name %d distinct emails, fewer than the %d asked for", len(ids), e.plan.EnrichIDs)
	}
	out := newCounter(int64(2*len(ids)), nil)
	p, err := startPipeline(pipelineSpec{resources: enrichResources, processors: []string{enrichProcessorYAML(e.fake.URL)}, threads: 2}, out.consume)
	if err != nil {
		return err
	}
	defer p.stop()
	before, err := e.fake.stats(ctx)
	if err != nil {
		return err
	}
	for _, phase := range []string{"cold cache", "warm cache"} {
		start := e.begin()
		if err := produceIDs(ctx, p.produce, ids); err != nil {
			return fmt.Errorf("%s: %w", phase, err)
		}
		e.end(start, phase, int64(len(ids)), int64(len(ids)))
		if err := e.snapshotFake(ctx); err != nil {
			return err
		}
		calls := apiCalls(e.res.Fake) - apiCalls(before)
		e.figure(phase+" API calls", float64(calls))
		before = e.res.Fake
	}
	return nil
}

// apiCalls counts the fake's calls except token fetches.
func apiCalls(st mimecastfake.Stats) int {
	n := 0
	for path, c := range st.Calls {
		if path != "/oauth/token" {
			n += c
		}
	}
	return n
}

// produceIDs sends one event per id, enrichBatch to a batch, enrichInFlight batches at once;
// it returns when every batch was delivered.
func produceIDs(ctx context.Context, produce service.MessageBatchHandlerFunc, ids []string) error {
	batches := make(chan service.MessageBatch)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range enrichInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := produce(ctx, b); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < len(ids); i += enrichBatch {
		var b service.MessageBatch
		for j, id := range ids[i:min(i+enrichBatch, len(ids))] {
			m := service.NewMessage([]byte(`{"n":` + strconv.Itoa(i+j) + `}`))
			m.MetaSetMut("mimecast_message_id", id)
			b = append(b, m)
		}
		select {
		case batches <- b:
		case <-ctx.Done():
			close(batches)
			wg.Wait()
			return ctx.Err()
		}
	}
	close(batches)
	wg.Wait()
	return errors.Join(errs...)
}

// trackedMessageIDs collects up to n distinct Message-IDs from the tenant's URL Protect clicks,
// which point at tracked, archived emails.
func trackedMessageIDs(ctx context.Context, url string, n int) ([]string, error) {
	c, err := mimecast.New(mimecast.Config{APIURL: url, ClientID: fakeClientID, ClientSecret: fakeClientSecret, PageSize: apiPageSize})
	if err != nil {
		return nil, fmt.Errorf("building client: %w", err)
	}
	defer c.Close()
	// One request for every page: the page token belongs to the request's filters.
	req := mimecast.URLLogsRequest{From: time.Now().Add(-lookback), OldestFirst: true}
	seen := map[string]bool{}
	var ids []string
	tok := ""
	for len(ids) < n {
		p, err := c.URLClickLogsPage(ctx, req, tok)
		if err != nil {
			return nil, fmt.Errorf("listing clicks for message ids: %w", err)
		}
		for _, it := range p.Items {
			if id := it.MessageID(); id != "" && !seen[id] && len(ids) < n {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if p.Next == "" {
			break
		}
		tok = p.Next
	}
	return ids, nil
}
