package reliability

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// RunFigures is what one run of the pipeline wrote.
type RunFigures struct {
	Run            int
	Lines          int // lines written
	New            int // events written for the first time
	Replayed       int // events an earlier run had written already: the cost of the kill before
	RepeatedInRun  int // events this run wrote twice: never expected
	Unknown        int // lines naming an event the tenant does not hold
	Torn           int // lines that are not an event (cut short by the kill)
	UniqueAfter    int // distinct events written by this run and the ones before
	Killed         bool
	Stalled        bool // ended by the harness for writing nothing new while events were missing
	KilledAtUnique int  // distinct events written when the kill came
	// CheckpointResets counts "starting at the lookback" in the run's log: a checkpoint the
	// run could not read, so it re-read everything.
	CheckpointResets int
	Duration         time.Duration
}

func (f RunFigures) String() string {
	end := "drained"
	if f.Stalled {
		end = "stalled"
	}
	if f.Killed {
		end = fmt.Sprintf("SIGKILL at %d events", f.KilledAtUnique)
	}
	return fmt.Sprintf("%d lines, %d new, %d replayed, %d repeated in run, %d unknown, %d torn, %d checkpoint resets, %v, %s",
		f.Lines, f.New, f.Replayed, f.RepeatedInRun, f.Unknown, f.Torn, f.CheckpointResets, f.Duration.Round(time.Millisecond), end)
}

// CrashReport is the outcome of one crash test.
type CrashReport struct {
	Scenario     string
	Seed         int64
	Events       int // distinct events the tenant holds for the pipeline
	TruthRepeats int // records the tenant holds more than once under the same identity
	Kills        int
	Runs         []RunFigures
	Lost         int
	LostSample   []string
	// UnknownSample names a few output keys the tenant does not hold.
	UnknownSample []string
	BoundPerKill  int
	BoundWhy      string
	Wall          time.Duration
}

// Duplicates is every line beyond the first of its event.
func (r *CrashReport) Duplicates() int {
	n := 0
	for _, f := range r.Runs {
		n += f.Replayed + f.RepeatedInRun
	}
	return n
}

// MaxReplay is the most events one kill made the next run write again.
func (r *CrashReport) MaxReplay() int {
	n := 0
	for _, f := range r.Runs {
		n = max(n, f.Replayed)
	}
	return n
}

// Check returns every way the run broke the contract: an event lost, an event the tenant does
// not hold, an event repeated without a kill, or a kill costing more than its bound.
func (r *CrashReport) Check() error {
	var errs []error
	if r.Lost > 0 {
		errs = append(errs, fmt.Errorf("%d of %d events lost (e.g. %v)", r.Lost, r.Events, r.LostSample))
	}
	for _, f := range r.Runs {
		if f.Unknown > 0 {
			errs = append(errs, fmt.Errorf("run %d wrote %d events the tenant does not hold (e.g. %v)", f.Run, f.Unknown, r.UnknownSample))
		}
		if f.RepeatedInRun > 0 {
			errs = append(errs, fmt.Errorf("run %d wrote %d events twice without a kill in between", f.Run, f.RepeatedInRun))
		}
		if f.Replayed > r.BoundPerKill {
			errs = append(errs, fmt.Errorf("run %d replayed %d events after the kill before it, above the bound of %d", f.Run, f.Replayed, r.BoundPerKill))
		}
	}
	return errors.Join(errs...)
}

func (r *CrashReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s crash test (seed %d)\n", r.Scenario, r.Seed)
	fmt.Fprintf(&b, "  events in the tenant:   %d\n", r.Events)
	fmt.Fprintf(&b, "  kills (SIGKILL):        %d\n", r.Kills)
	fmt.Fprintf(&b, "  lost:                   %d\n", r.Lost)
	fmt.Fprintf(&b, "  duplicates:             %d (%.2f%% of events)\n", r.Duplicates(), 100*float64(r.Duplicates())/float64(max(r.Events, 1)))
	fmt.Fprintf(&b, "  most replayed per kill: %d (bound %d: %s)\n", r.MaxReplay(), r.BoundPerKill, r.BoundWhy)
	fmt.Fprintf(&b, "  wall time:              %v\n", r.Wall.Round(100*time.Millisecond))
	for _, f := range r.Runs {
		fmt.Fprintf(&b, "  run %2d: %s\n", f.Run, f)
	}
	return b.String()
}
