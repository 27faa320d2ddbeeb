package bench

import (
	"fmt"
	"time"
)

// Targets of the backfill comparison, as ratios to the stock http_client pipeline on the same
// feed and tenant.
const (
	targetLatencySpeedup = 4.0 // events/s with apiLatency on every call
	targetZeroSpeedup    = 1.5 // events/s on loopback
	targetZeroCPU        = 0.6 // CPU per event on loopback, at most
)

// The sizing model's tenant: how many URL Protect clicks a day a backlog holds, and the
// backfill_concurrency and page size it is read with.
const (
	sizingEventsPerDay = 100_000
	sizingConcurrency  = 8
)

func (r *Report) latencySection(md *mdWriter) {
	in, stock := r.Result("latency_threats"), r.Result("latency_http_client")
	if in == nil || stock == nil || len(in.Phases) == 0 || len(stock.Phases) == 0 {
		return
	}
	a, b := in.Phases[0], stock.Phases[0]
	md.p("### A backlog with real API latency: slices read at once")
	md.p("")
	md.p("%s URL Protect clicks, the fake answering every call after %v (as a tenant across the internet does:", fmtInt(int64(r.Plan.LatencyEvents)), apiLatency)
	md.p("`Options.Latency`, `fake-api --latency`), read by `mimecast_threats` with its defaults (`backfill_slice` 1h,")
	md.p("`backfill_concurrency` 8) and by the stock `http_client` pipeline above. The stock pipeline walks one page per")
	md.p("round trip; `mimecast_threats` asks for the lookback's first page, learns from its `totalCount` how many pages")
	md.p("the window holds, cuts it into slices of about 10 pages and reads 8 of them at once.")
	md.p("")
	md.table(throughputHead, [][]string{
		phaseRow("`mimecast_threats` to drop", in, a),
		phaseRow("stock `http_client` + `unarchive`", stock, b),
	})
	speedup := a.EventsPerSecond() / b.EventsPerSecond()
	md.p("- Target: at least %.0fx the stock pipeline's events/s at %v a call: %s (%s times).", targetLatencySpeedup, apiLatency, verdict(speedup >= targetLatencySpeedup), fmtRatio(a.EventsPerSecond(), b.EventsPerSecond()))
	calls := in.Fake.Calls["/api/ttp/url/get-logs"]
	pages := ceilDiv(r.Plan.LatencyEvents, apiPageSize)
	md.p("- Calls: %s for %s pages (%s x): the lookback's first page (read again in its slice), and for each slice", fmtInt(int64(calls)), fmtInt(int64(pages)), fmtRatio(float64(calls), float64(pages)))
	md.p("  about one call more than its share of pages: its last page is part full, and the lookback's first 24 hours")
	md.p("  hold no clicks (their slices cost a call each).")
	md.p("")
	if zi, zs := r.Result("url_threats"), r.Result("url_http_client"); zi != nil && zs != nil && len(zi.Phases) > 0 && len(zs.Phases) > 0 {
		x, y := zi.Phases[0], zs.Phases[0]
		rate, cpu := x.EventsPerSecond()/y.EventsPerSecond(), x.CPUPerMillion()/y.CPUPerMillion()
		md.p("- Target on loopback (the table above this one): at least %.1fx the stock pipeline's events/s: %s (%s times);", targetZeroSpeedup, verdict(rate >= targetZeroSpeedup), fmtRatio(x.EventsPerSecond(), y.EventsPerSecond()))
		md.p("  at most %.1fx its CPU per event: %s (%s times).", targetZeroCPU, verdict(cpu <= targetZeroCPU), fmtRatio(x.CPUPerMillion(), y.CPUPerMillion()))
		if fake := fakeCPUPerMillion(zi); fake > 0 {
			md.p("  On loopback both run against a fake that needs %.1f CPU s per million clicks on the same %d cores, and", fake, r.Machine.CPUs)
			md.p("  neither waits for the network, so slicing has no round trips to overlap: the ratio is one of CPU per event.")
		}
		md.p("")
	}
	r.sizingTable(md, a, float64(calls)/float64(pages))
}

// sizingTable is the expected drain time of real backlogs from the measured run: its CPU per
// event, and the calls it made per page.
func (r *Report) sizingTable(md *mdWriter, ph Phase, callsPerPage float64) {
	cpuPerEvent := ph.CPUPerMillion() / 1e6
	md.p("#### Sizing: how long a backlog takes to drain")
	md.p("")
	md.p("A tenant of %s URL Protect clicks a day, one feed, pages of %d, `backfill_concurrency` %d. The model: a", fmtInt(sizingEventsPerDay), apiPageSize, sizingConcurrency)
	md.p("drain needs C = pages x %.2f calls (measured above); it takes the longest of C x latency / %d (the slices'", callsPerPage, sizingConcurrency)
	md.p("round trips), C / quota (the quota's pace) and events x %.1f µs / %d cores (this machine's CPU per event,", cpuPerEvent*1e6, r.Machine.CPUs)
	md.p("measured above). One page at a time, as the stock pipeline and most collectors read, takes pages x latency.")
	md.p("")
	head := []string{"backlog", "latency", "quota", "`mimecast_threats`", "one page at a time"}
	var rows [][]string
	for _, days := range []int{1, 7} {
		events := float64(days * sizingEventsPerDay)
		pages := float64(ceilDiv(days*sizingEventsPerDay, apiPageSize))
		calls := pages * callsPerPage
		for _, lat := range []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, time.Second} {
			for _, q := range []struct {
				label  string
				perSec float64 // 0: none
			}{{"none", 0}, {"300 / min", 5}, {"60 / min", 1}} {
				t := max(calls*lat.Seconds()/sizingConcurrency, events*cpuPerEvent/float64(r.Machine.CPUs))
				one := pages * lat.Seconds()
				if q.perSec > 0 {
					t = max(t, calls/q.perSec)
					one = max(one, pages/q.perSec)
				}
				rows = append(rows, []string{fmt.Sprintf("%d day", days) + map[bool]string{true: "s", false: ""}[days > 1], lat.String(), q.label, fmtSeconds(t), fmtSeconds(one)})
			}
		}
	}
	md.table(head, rows)
	md.p("")
	md.p("- Under a quota the quota sets the pace, and slicing only spends its %.0f%% more calls. When the client", (callsPerPage-1)*100)
	md.p("  knows the quota from its X-RateLimit-* headers when the backlog's first page is back, and it allows fewer")
	md.p("  than 1.5 calls per round trip, the backlog is walked page by page instead. A tenant that sends the headers")
	md.p("  only with a 429 is sliced before its quota is known; `backfill_concurrency: 1` then saves the calls.")
	md.p("")
}

// fmtSeconds is a duration in seconds as a reader sizes it: seconds, minutes or hours.
func fmtSeconds(s float64) string {
	switch {
	case s < 120:
		return fmt.Sprintf("%.0f s", s)
	case s < 7200:
		return fmt.Sprintf("%.0f min", s/60)
	default:
		return fmt.Sprintf("%.1f h", s/3600)
	}
}
