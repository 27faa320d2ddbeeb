package reliability

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// SoakReport is the outcome of a soak run.
type SoakReport struct {
	Seed      int64
	Duration  time.Duration
	WarmUp    time.Duration
	Tolerance float64
	Samples   []SoakSample
	Faults    map[string]int // injected, by kind
	// FaultsFired counts the injected faults that met a request before the next one replaced
	// them (a fault set while the pipeline waits out its poll interval may meet none).
	FaultsFired map[string]int
	// SIEMBatchWindow is how often the tenant published live SIEM batch files.
	SIEMBatchWindow time.Duration

	Events      int // what the tenant held when the faults stopped
	Lines       int // what the pipeline printed
	Lost        int
	LostSample  []string
	Duplicates  int
	Unknown     int // events printed that the tenant does not hold
	Undecodable int // lines that are not an event: malformed SIEM lines, emitted error-flagged
	CatchUp     time.Duration

	APICalls     int
	RateLimited  int
	ServerErrors int
}

// Trend compares a gauge over the judged samples (after the warm-up): the mean of the first
// third and of the last third, and the highest value.
type Trend struct {
	First, Last, Max float64
	Samples          int
}

// Growth is how much the last third is above the first, as a fraction.
func (t Trend) Growth() float64 {
	if t.First == 0 {
		return 0
	}
	return t.Last/t.First - 1
}

func (r *SoakReport) trend(v func(SoakSample) float64) Trend {
	var judged []float64
	for _, s := range r.Samples {
		if s.At >= r.WarmUp {
			judged = append(judged, v(s))
		}
	}
	t := Trend{Samples: len(judged)}
	if len(judged) < 3 {
		return t
	}
	third := len(judged) / 3
	mean := func(xs []float64) float64 {
		sum := 0.0
		for _, x := range xs {
			sum += x
		}
		return sum / float64(len(xs))
	}
	t.First, t.Last, t.Max = mean(judged[:third]), mean(judged[len(judged)-third:]), slices.Max(judged)
	return t
}

// RSS is the resident memory trend; Goroutines and Heap likewise.
func (r *SoakReport) RSS() Trend  { return r.trend(func(s SoakSample) float64 { return s.RSSBytes }) }
func (r *SoakReport) Heap() Trend { return r.trend(func(s SoakSample) float64 { return s.HeapBytes }) }
func (r *SoakReport) Goroutines() Trend {
	return r.trend(func(s SoakSample) float64 { return s.Goroutines })
}

// NotTaken lists, sorted, the fault kinds that were injected but never met a request: the run
// says nothing about how the pipeline handles them.
func (r *SoakReport) NotTaken() []string {
	var out []string
	for name, n := range r.Faults {
		if n > 0 && r.FaultsFired[name] == 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// NotInjected lists, sorted, the fault kinds the run never injected.
func (r *SoakReport) NotInjected() []string {
	var out []string
	for _, f := range soakFaults {
		if r.Faults[f.name] == 0 {
			out = append(out, f.name)
		}
	}
	slices.Sort(out)
	return out
}

// goroutineSlack absorbs the few goroutines a fault in progress holds at the moment of a
// sample (a slow response, a retry's timer): a leak grows without bound, this does not.
const goroutineSlack = 5

// Check returns every way the soak broke the contract.
func (r *SoakReport) Check() error {
	var errs []error
	if r.Lost > 0 {
		errs = append(errs, fmt.Errorf("%d of %d events lost (e.g. %v)", r.Lost, r.Events, r.LostSample))
	}
	if r.Duplicates > 0 {
		errs = append(errs, fmt.Errorf("%d events printed more than once", r.Duplicates))
	}
	if r.Unknown > 0 {
		errs = append(errs, fmt.Errorf("%d events printed that the tenant does not hold", r.Unknown))
	}
	rss, gor := r.RSS(), r.Goroutines()
	if rss.Samples < 6 {
		errs = append(errs, fmt.Errorf("only %d samples after the warm-up: too few to judge", rss.Samples))
	} else {
		if rss.Growth() > r.Tolerance {
			errs = append(errs, fmt.Errorf("resident memory grew %.0f%% (%.1f to %.1f MiB), above %.0f%%", 100*rss.Growth(), rss.First/(1<<20), rss.Last/(1<<20), 100*r.Tolerance))
		}
		if gor.Last > gor.First*(1+r.Tolerance)+goroutineSlack {
			errs = append(errs, fmt.Errorf("goroutines grew from %.1f to %.1f, above %.0f%% + %d", gor.First, gor.Last, 100*r.Tolerance, goroutineSlack))
		}
	}
	return errors.Join(errs...)
}

func (r *SoakReport) String() string {
	var b strings.Builder
	rss, heap, gor := r.RSS(), r.Heap(), r.Goroutines()
	mib := func(v float64) float64 { return v / (1 << 20) }
	fmt.Fprintf(&b, "soak of the demo pipeline (seed %d): %v under faults, %d samples, judged after %v, a SIEM batch file window of %v\n",
		r.Seed, r.Duration, len(r.Samples), r.WarmUp, r.SIEMBatchWindow)
	fmt.Fprintf(&b, "  resident memory: %.1f MiB -> %.1f MiB (%+.1f%%), max %.1f MiB\n", mib(rss.First), mib(rss.Last), 100*rss.Growth(), mib(rss.Max))
	fmt.Fprintf(&b, "  heap in use:     %.1f MiB -> %.1f MiB (%+.1f%%), max %.1f MiB\n", mib(heap.First), mib(heap.Last), 100*heap.Growth(), mib(heap.Max))
	fmt.Fprintf(&b, "  goroutines:      %.1f -> %.1f (%+.1f%%), max %.0f\n", gor.First, gor.Last, 100*gor.Growth(), gor.Max)
	fmt.Fprintf(&b, "  events: %d held, %d lines printed, %d lost, %d duplicates, %d unknown, %d undecodable (malformed lines), caught up %v after the faults stopped\n",
		r.Events, r.Lines, r.Lost, r.Duplicates, r.Unknown, r.Undecodable, r.CatchUp.Round(100*time.Millisecond))
	// Each malformed-line fault puts one broken line into one file; the input must emit it as
	// exactly one error-flagged message. A mismatch is not proof of a fault (a file whose read
	// was cut by a later fault is listed again without the broken line), but it is worth a look.
	if m := r.FaultsFired[malformedLineFault]; m != r.Undecodable {
		fmt.Fprintf(&b, "  NOTE: %d malformed-line faults taken but %d undecodable lines printed\n", m, r.Undecodable)
	}
	fmt.Fprintf(&b, "  tenant: %d API calls, %d answered 429, %d answered 5xx\n", r.APICalls, r.RateLimited, r.ServerErrors)
	total, fired := 0, 0
	for name, n := range r.Faults {
		total += n
		fired += r.FaultsFired[name]
	}
	fmt.Fprintf(&b, "  faults injected: %d, of which met a request: %d\n", total, fired)
	for _, name := range slices.Sorted(maps.Keys(r.Faults)) {
		mark := ""
		if r.FaultsFired[name] == 0 {
			mark = "  <- never taken"
		}
		fmt.Fprintf(&b, "    %-30s %3d injected, %3d met a request%s\n", name, r.Faults[name], r.FaultsFired[name], mark)
	}
	// Not a failure of the pipeline, but a gap in what the run shows: say it, do not leave it
	// to a reader to spot a zero in the table.
	if nt := r.NotTaken(); len(nt) > 0 {
		fmt.Fprintf(&b, "  WARNING: injected but never taken, so not exercised: %s\n", strings.Join(nt, ", "))
	}
	if ni := r.NotInjected(); len(ni) > 0 {
		fmt.Fprintf(&b, "  WARNING: never injected (run too short for a round of every kind): %s\n", strings.Join(ni, ", "))
	}
	return b.String()
}
