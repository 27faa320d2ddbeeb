package reliability

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// CrashOptions are the knobs every crash scenario shares.
type CrashOptions struct {
	Binary  string        // the mimecast-connect binary (see BuildBinary)
	Dir     string        // work directory: configs, checkpoints, outputs, child logs
	Seed    int64         // seeds the tenant and the kill moments
	Kills   int           // SIGKILLs before the last run, which drains
	Timeout time.Duration // the whole test; default 15m
	// Stall fails a run that writes nothing new for this long while events are missing;
	// default 60s.
	Stall time.Duration
	Log   io.Writer // progress lines; nil = none
}

func (o *CrashOptions) withDefaults() {
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Minute
	}
	if o.Stall <= 0 {
		o.Stall = time.Minute
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// crashScenario is one pipeline under the crash test.
type crashScenario interface {
	name() string
	// config is the pipeline of one run, writing one JSON line per event to output.
	config(output string) string
	// key identifies the event of one output line; false for a line that is not one.
	key(line []byte) (string, bool)
	// boundPerKill is how many events one kill may make the next run emit again, and why.
	boundPerKill() (int, string)
	// resetMarker is what the binary logs when it cannot read a checkpoint and starts over.
	resetMarker() string
	// env is the environment the binary needs to reach the tenant.
	env() map[string]string
}

// pollEvery is how often the harness reads the outputs: it is also the resolution of a kill
// moment, in events written.
const pollEvery = 10 * time.Millisecond

// quietAfterDrain is how long the last run must write nothing more once every event is in,
// so late duplicates are counted too.
const quietAfterDrain = 2 * time.Second

// runCrash starts the pipeline, kills it at opts.Kills moments and restarts it, lets the last
// run drain, and counts what reached the outputs against truth.
func runCrash(ctx context.Context, opts CrashOptions, sc crashScenario, truth map[string]int) (*CrashReport, error) {
	opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := os.MkdirAll(filepath.Join(opts.Dir, "state"), 0o700); err != nil {
		return nil, fmt.Errorf("creating the checkpoint directory: %w", err)
	}
	bound, why := sc.boundPerKill()
	rep := &CrashReport{Scenario: sc.name(), Seed: opts.Seed, Events: len(truth), BoundPerKill: bound, BoundWhy: why}
	for _, n := range truth {
		rep.TruthRepeats += n - 1
	}
	targets := killTargets(opts.Seed, opts.Kills, len(truth))
	seen := make(map[string]int, len(truth))
	unique := 0
	start := time.Now()

	for run := 0; run <= len(targets); run++ {
		last := run == len(targets)
		out := filepath.Join(opts.Dir, fmt.Sprintf("out-%02d.jsonl", run))
		cfg := filepath.Join(opts.Dir, fmt.Sprintf("run-%02d.yaml", run))
		if err := os.WriteFile(cfg, []byte(sc.config(out)), 0o600); err != nil {
			return rep, fmt.Errorf("writing the pipeline config: %w", err)
		}
		logPath := filepath.Join(opts.Dir, fmt.Sprintf("run-%02d.log", run))
		child, err := StartChild(ChildSpec{Binary: opts.Binary, Args: []string{"run", cfg}, Env: sc.env(), Stderr: logPath})
		if err != nil {
			return rep, err
		}
		fig := RunFigures{Run: run}
		runSeen := map[string]bool{}
		line := func(l []byte) {
			fig.Lines++
			k, ok := sc.key(bytes.TrimSpace(l))
			switch {
			case !ok:
				fig.Torn++
				return
			case truth[k] == 0:
				fig.Unknown++
				if len(rep.UnknownSample) < 5 {
					rep.UnknownSample = append(rep.UnknownSample, k)
				}
			case runSeen[k]:
				fig.RepeatedInRun++
			case seen[k] > 0:
				fig.Replayed++
			default:
				fig.New++
				unique++
			}
			runSeen[k] = true
			seen[k]++
		}
		t := newTail(out)
		runStart := time.Now()
		err = watchRun(ctx, opts, child, t, line, func() (bool, time.Duration) {
			if !last {
				return unique >= targets[run], 0
			}
			return unique >= len(truth), quietAfterDrain
		}, &fig, &unique, len(truth))
		fig.Duration = time.Since(runStart)
		if ferr := t.finish(line); ferr != nil && err == nil {
			err = ferr
		}
		fig.UniqueAfter = unique
		fig.CheckpointResets = countInFile(logPath, sc.resetMarker())
		rep.Runs = append(rep.Runs, fig)
		fmt.Fprintf(opts.Log, "%s run %d: %s\n", sc.name(), run, fig)
		if err != nil {
			rep.count(truth, seen, time.Since(start))
			return rep, fmt.Errorf("run %d (log %s): %w", run, logPath, err)
		}
		if fig.Killed {
			rep.Kills++
		}
	}
	rep.count(truth, seen, time.Since(start))
	return rep, nil
}

// count fills in what is missing from the outputs: also after a failed run, which is when
// the figures matter most.
func (r *CrashReport) count(truth, seen map[string]int, wall time.Duration) {
	r.Wall = wall
	r.Lost, r.LostSample = 0, nil
	for k := range truth {
		if seen[k] == 0 {
			r.Lost++
			if len(r.LostSample) < 5 {
				r.LostSample = append(r.LostSample, k)
			}
		}
	}
}

// watchRun reads the run's output until done says it is time to end the run: a kill (quiet 0)
// or, for the last run, a graceful stop once nothing new was written for quiet.
func watchRun(ctx context.Context, opts CrashOptions, child *Child, t *tail, line func([]byte),
	done func() (bool, time.Duration), fig *RunFigures, unique *int, total int,
) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	lastLines, lastChange := -1, time.Now()
	for {
		if err := t.poll(line); err != nil {
			child.Kill()
			return err
		}
		if fig.Lines != lastLines {
			lastLines, lastChange = fig.Lines, time.Now()
		}
		if ok, quiet := done(); ok {
			if quiet == 0 {
				child.Kill()
				fig.Killed = true
				fig.KilledAtUnique = *unique
				return nil
			}
			if time.Since(lastChange) >= quiet {
				if _, err := child.Stop(30 * time.Second); err != nil {
					return fmt.Errorf("stopping the last run: %w", err)
				}
				return nil
			}
		} else if time.Since(lastChange) > opts.Stall {
			child.Kill()
			fig.Stalled = true
			return fmt.Errorf("no new output for %v with %d of %d events in", opts.Stall, *unique, total)
		}
		select {
		case <-child.Done():
			// Read what it wrote before judging: it may have finished just now.
			if err := t.poll(line); err != nil {
				return err
			}
			if ok, _ := done(); ok {
				return nil
			}
			return fmt.Errorf("the pipeline exited on its own (%v) with %d of %d events in", child.ExitErr(), *unique, total)
		case <-ctx.Done():
			child.Kill()
			return fmt.Errorf("crash test timed out with %d of %d events in: %w", *unique, total, ctx.Err())
		case <-tick.C:
		}
	}
}

// killTargets draws the kill moments: for each kill, the number of distinct events written
// at which the running pipeline is killed. They are spread uniformly over the run (3% to 97%
// of the events) and at least 1% apart, so that every restarted run gets to do some work
// before its own kill.
func killTargets(seed int64, kills, total int) []int {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6b696c6c))
	minGap := max(total/100, 1)
	var out []int
	for tries := 0; len(out) < kills && tries < 10_000; tries++ {
		n := total*3/100 + rng.IntN(max(total*94/100, 1))
		if !slices.ContainsFunc(out, func(o int) bool { return abs(o-n) < minGap }) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// countInFile counts the lines of path that contain s (0 when it cannot be read).
func countInFile(path, s string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte(s))
}
