package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// The scenario that crawls half the archive, and at which concurrency.
const (
	archiveHalfScenario    = "archive_c4_half"
	archiveHalfConcurrency = 4
)

// archiveFake is the crawl's tenant: Domains x UsersPerDomain mailboxes of MessagesPerMailbox /
// divisor messages each, attachments around AttachmentBytes with LargeAttachmentPct of them
// 5 MiB.
func archiveFake(divisor int) func(p plan, anchor time.Time) fakeSpec {
	return func(p plan, anchor time.Time) fakeSpec {
		return fakeSpec{
			Seed: 4, Anchor: anchor, EventsPerFeed: -1,
			Domains: p.Domains, LocalDomains: 1, UsersPerDomain: p.UsersPerDomain,
			MessagesPerMailbox: p.MessagesPerMailbox / divisor,
			AttachmentBytes:    p.AttachmentBytes, LargeAttachmentPct: p.LargeAttachmentPct,
		}
	}
}

// archiveYAML crawls every mailbox (local domains included) up to end_date, extracting
// attachments, so that each email and each attachment is a message of its own.
func archiveYAML(url string, concurrency int, end time.Time) string {
	return fmt.Sprintf(`mimecast_archive:
  %s
  page_size: %d
  include_local_domains: true
  end_date: %s
  extract_attachments: true
  mailbox_concurrency: %d
  progress_interval: ""
`, indentLines(connYAML(url), "  "), apiPageSize, end.UTC().Format(time.RFC3339), concurrency)
}

func indentLines(s, pad string) string {
	out := ""
	for i, line := range splitNonEmpty(s) {
		if i > 0 {
			out += "\n" + pad
		}
		out += line
	}
	return out
}

func splitNonEmpty(s string) []string {
	var lines []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '\n' {
			if i > start {
				lines = append(lines, s[start:i])
			}
			start = i + 1
		}
	}
	return lines
}

// archiveOutput counts what the crawl emits, and when each mailbox's first and last messages
// arrived.
type archiveOutput struct {
	mu          sync.Mutex
	emails      int64
	attachments int64
	bytes       int64
	first, last map[string]time.Time
}

func (o *archiveOutput) consume(_ context.Context, b service.MessageBatch) error {
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range b {
		doc, _ := m.MetaGet("mimecast_document")
		switch doc {
		case "email":
			o.emails++
		case "attachment":
			o.attachments++
		}
		if raw, err := m.AsBytes(); err == nil {
			o.bytes += int64(len(raw))
		}
		mb, _ := m.MetaGet("mimecast_mailbox")
		if _, ok := o.first[mb]; !ok {
			o.first[mb] = now
		}
		o.last[mb] = now
	}
	return nil
}

func runArchive(concurrency, divisor int) func(ctx context.Context, e *env) error {
	return func(ctx context.Context, e *env) error {
		p := e.plan
		mailboxes := p.Domains * p.UsersPerDomain
		expected := int64(mailboxes * (p.MessagesPerMailbox / divisor))
		out := &archiveOutput{first: map[string]time.Time{}, last: map[string]time.Time{}}
		start := e.begin()
		// The input ends by itself once a crawl reached end_date, which must be in the past for
		// that (a later one is crawled up to now, then again after poll_interval). The backlog
		// ends at the anchor, before now: the phase is the whole crawl, acknowledged.
		end := time.Now().Truncate(time.Second)
		pl, err := startPipeline(pipelineSpec{input: archiveYAML(e.fake.URL, concurrency, end)}, out.consume)
		if err != nil {
			return err
		}
		var runErr error
		select {
		case runErr = <-pl.ended:
		case <-ctx.Done():
			pl.stop()
			runErr = ctx.Err()
		}
		out.mu.Lock()
		defer out.mu.Unlock()
		e.end(start, fmt.Sprintf("mailbox_concurrency %d", concurrency), out.emails, expected)
		if err := e.snapshotFake(ctx); err != nil {
			return err
		}
		e.figure("mailbox_concurrency", float64(concurrency))
		e.figure("mailboxes", float64(len(out.first)))
		e.figure("attachments", float64(out.attachments))
		e.figure("bytes", float64(out.bytes))
		// Time per mailbox: the crawl's wall time shared out over the mailboxes crawled at once,
		// and the longest span between a mailbox's first and last message at the output.
		e.figure("mailbox_avg_s", e.res.Phases[0].Wall.Seconds()*float64(concurrency)/float64(max(len(out.first), 1)))
		var longest time.Duration
		for mb, f := range out.first {
			longest = max(longest, out.last[mb].Sub(f))
		}
		e.figure("mailbox_max_s", longest.Seconds())
		if runErr != nil {
			return fmt.Errorf("crawling the archive: %w", runErr)
		}
		if out.emails != expected {
			return fmt.Errorf("crawl emitted %d of %d emails: %w", out.emails, expected, errIncomplete)
		}
		return nil
	}
}
