package bench

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// threatsFake is the drain's tenant: ThreatsPerSource events on every feed and SIEM type,
// spread over backlogSpan, SIEM files of the documented 500 events.
func threatsFake(p plan, anchor time.Time) fakeSpec {
	return fakeSpec{Seed: 1, Anchor: anchor, EventsPerFeed: p.ThreatsPerSource, Span: backlogSpan, SIEMEventsPerFile: 500}
}

// urlFake is the tenant of the single-feed comparison: URLEvents URL Protect clicks.
func urlFake(p plan, anchor time.Time) fakeSpec {
	return fakeSpec{Seed: 2, Anchor: anchor, EventsPerFeed: p.URLEvents, Span: backlogSpan}
}

// latencyFake is the tenant of the latency comparison: LatencyEvents URL Protect clicks, every
// call answered after apiLatency.
func latencyFake(p plan, anchor time.Time) fakeSpec {
	return fakeSpec{Seed: 3, Anchor: anchor, EventsPerFeed: p.LatencyEvents, Span: backlogSpan, Latency: apiLatency}
}

// drainQuiet is how long a drain may deliver nothing before it is declared stuck.
const drainQuiet = 30 * time.Second

// threatsYAML is the mimecast_threats input the scenarios run: every backlog in one window
// (lookback covers the span), the largest pages, no re-poll during the run.
func threatsYAML(url string, feeds, types []string) string {
	var b strings.Builder
	b.WriteString("mimecast_threats:\n")
	conf := connYAML(url) + fmt.Sprintf("page_size: %d\nlookback: %s\npoll_interval: 1h\nfeeds: [%s]\n",
		apiPageSize, lookback, strings.Join(feeds, ", "))
	if len(types) > 0 {
		conf += fmt.Sprintf("siem_event_types: [%s]\n", quoteList(types))
	}
	for _, line := range strings.Split(strings.TrimSuffix(conf, "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
	return b.String()
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// drainThreats runs mimecast_threats on feeds until expected events arrived at the output.
func drainThreats(ctx context.Context, e *env, phase string, feeds, types []string, expected int64) error {
	out := newCounter(expected, metaKey("mimecast_feed"))
	start := e.begin()
	p, err := startPipeline(pipelineSpec{input: threatsYAML(e.fake.URL, feeds, types)}, out.consume)
	if err != nil {
		return err
	}
	defer p.stop()
	werr := out.wait(ctx, drainQuiet, p.ended)
	e.endCounted(start, phase, out, expected)
	e.res.FeedEvents = out.counts()
	if err := e.snapshotFake(ctx); err != nil {
		return err
	}
	return werr
}

func runThreatsDrain(ctx context.Context, e *env) error {
	sources := int64(len(threatFeeds) - 1 + len(siemTypes))
	return drainThreats(ctx, e, "mimecast_threats", threatFeeds, siemTypes, sources*int64(e.plan.ThreatsPerSource))
}

func runURLThreats(ctx context.Context, e *env) error {
	return drainThreats(ctx, e, "mimecast_threats", []string{"url_protect"}, nil, int64(e.plan.URLEvents))
}

func runLatencyThreats(ctx context.Context, e *env) error {
	return drainThreats(ctx, e, "mimecast_threats", []string{"url_protect"}, nil, int64(e.plan.LatencyEvents))
}
