package bench

import (
	"context"
	"fmt"
	"time"
)

// Memory under hostile records: the peak RSS of the threats input draining SIEM files of huge
// lines, and of the archive crawl of a search that understates every email's size, each with
// the inputs' default byte budgets.
const (
	hugeSIEMScenario   = "siem_huge_lines"
	lyingSizesScenario = "archive_lying_sizes"
	// targetHostileRSS is the peak RSS the hostile records may take with default settings.
	targetHostileRSS = 300 << 20
)

// hugeSIEMFake is a tenant with HugeSIEMLines av events, each padded to HugeSIEMLineBytes, in
// files of 50 lines.
func hugeSIEMFake(p plan, anchor time.Time) fakeSpec {
	return fakeSpec{Seed: 6, Anchor: anchor, EventsPerFeed: p.HugeSIEMLines, Span: backlogSpan, SIEMEventsPerFile: 50, SIEMLinePadBytes: p.HugeSIEMLineBytes}
}

func runHugeSIEM(ctx context.Context, e *env) error {
	e.figure("line_bytes", float64(e.plan.HugeSIEMLineBytes))
	return drainThreats(ctx, e, "mimecast_threats, siem av", []string{"siem"}, []string{"av"}, int64(e.plan.HugeSIEMLines))
}

// lyingSizesFake is a crawl tenant whose emails all carry LargeAttachmentBytes attachments (the
// fake's 5 MiB ones) while the search says each email is 2,000 bytes.
func lyingSizesFake(p plan, anchor time.Time) fakeSpec {
	return fakeSpec{
		Seed: 7, Anchor: anchor, EventsPerFeed: -1,
		Domains: 1, LocalDomains: 1, UsersPerDomain: p.LyingMailboxes,
		MessagesPerMailbox: p.LyingMessagesPerMailbox,
		AttachmentBytes:    p.AttachmentBytes, LargeAttachmentPct: 100,
		ArchiveReportedSize: 2000,
	}
}

// runLyingSizes crawls the lying tenant at mailbox_concurrency 16 (the largest the crawl
// scenarios use), every other setting the default.
func runLyingSizes(ctx context.Context, e *env) error {
	p := e.plan
	expected := int64(p.LyingMailboxes * p.LyingMessagesPerMailbox)
	out := &archiveOutput{first: map[string]time.Time{}, last: map[string]time.Time{}}
	start := e.begin()
	end := time.Now().Truncate(time.Second)
	pl, err := startPipeline(pipelineSpec{input: archiveYAML(e.fake.URL, 16, end)}, out.consume)
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
	e.end(start, "mailbox_concurrency 16, sizes understated", out.emails, expected)
	if err := e.snapshotFake(ctx); err != nil {
		return err
	}
	e.figure("attachments", float64(out.attachments))
	e.figure("bytes", float64(out.bytes))
	if runErr != nil {
		return fmt.Errorf("crawling the archive: %w", runErr)
	}
	if out.emails != expected {
		return fmt.Errorf("crawl emitted %d of %d emails: %w", out.emails, expected, errIncomplete)
	}
	return nil
}

func (r *Report) memorySection(md *mdWriter) {
	siem, lying := r.Result(hugeSIEMScenario), r.Result(lyingSizesScenario)
	if siem == nil && lying == nil {
		return
	}
	md.p("## Memory under hostile records")
	md.p("")
	md.p("Peak RSS of the measured process with default settings (`max_bytes_in_flight` of each input at its")
	md.p("default), whatever the records' sizes. Target: under %s.", fmtMiB(targetHostileRSS))
	md.p("")
	rows := [][]string{}
	for _, res := range []*Result{siem, lying} {
		if res == nil || len(res.Phases) == 0 {
			continue
		}
		ph := res.Phases[0]
		what := fmt.Sprintf("SIEM av files of 50 lines of %s each", fmtMiB(int64(res.Figures["line_bytes"])))
		if res == lying {
			what = fmt.Sprintf("archive: %s attachments of 5 MiB, the search saying 2,000 bytes per email", fmtInt(int64(res.Figures["attachments"])))
		}
		rows = append(rows, []string{what, fmtInt(ph.Events), fmtInt(ph.Errored), fmtDur(ph.Wall), fmtMiB(res.PeakRSS), verdict(res.PeakRSS < targetHostileRSS)})
	}
	md.table([]string{"records", "events / emails", "error-flagged", "wall", "peak RSS", "under target"}, rows)
	md.p("")
}
