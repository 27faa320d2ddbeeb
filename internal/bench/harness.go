// Package bench is the project's benchmark harness: it drains backlogs from the simulated tenant
// (internal/mimecastfake) on loopback with mimecast_threats, a plain client loop (the ceiling) and
// the stock http_client input, measures throughput, CPU, peak RSS and API efficiency, runs the
// quota, archive and enrich scenarios, and renders docs/benchmarks.md.
//
// Run it with `go run ./cmd/benchharness` (see Taskfile.yml's bench task). By default each scenario
// runs in a process of its own and the fake in another, so that every CPU and RSS figure belongs
// to the code measured; the CI test runs everything in its own process instead.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// Arguments of the harness binary's internal modes (see cmd/benchharness).
const (
	ServeFakeArg   = "serve-fake"   // serve-fake <fakeSpec JSON>
	RunScenarioArg = "run-scenario" // run-scenario <childRequest JSON>
)

// Options configure Run.
type Options struct {
	Size string // SizeSmall or SizeFull
	// Exe is the harness binary. When set, each scenario and its fake run as child processes of
	// it (serve-fake, run-scenario); when empty, everything runs in this process.
	Exe string
	// Only, when not empty, names the scenarios to run.
	Only []string
	// Log receives one progress line per scenario; nil discards.
	Log io.Writer
	// ProfileDir, when set, gets a CPU profile of each scenario's measured process,
	// <scenario>.pprof (isolated runs only: one profile per process).
	ProfileDir string
}

// Phase is one timed part of a scenario.
type Phase struct {
	Name     string        `json:"name"`
	Start    time.Time     `json:"start"`
	Events   int64         `json:"events"`
	Expected int64         `json:"expected"`
	Wall     time.Duration `json:"wall"`
	CPU      time.Duration `json:"cpu"`
	// Errored counts delivered messages flagged with an error (decode or lookup failures).
	Errored int64 `json:"errored,omitempty"`
}

// EventsPerSecond is Events over Wall.
func (p Phase) EventsPerSecond() float64 { return perSecond(p.Events, p.Wall) }

// CPUPerMillion is the process CPU seconds spent per million events.
func (p Phase) CPUPerMillion() float64 {
	if p.Events == 0 {
		return 0
	}
	return p.CPU.Seconds() * 1e6 / float64(p.Events)
}

// Result is what one scenario measured.
type Result struct {
	Scenario string  `json:"scenario"`
	Phases   []Phase `json:"phases"`
	// PeakRSS is the high-water mark of the process that ran the scenario, in bytes.
	PeakRSS int64 `json:"peakRSS"`
	// Isolated: the scenario ran in a process of its own, and the fake in another.
	Isolated bool `json:"isolated"`
	// FakeCPU is the CPU the fake's process used (Isolated only).
	FakeCPU time.Duration `json:"fakeCPU"`
	// Fake is the fake's counters when the measured part ended.
	Fake mimecastfake.Stats `json:"fake"`
	// FeedEvents counts delivered events per feed (or per SIEM type).
	FeedEvents map[string]int64 `json:"feedEvents,omitempty"`
	// Figures holds scenario-specific numbers (mailboxes, bytes, minimum times, ...).
	Figures map[string]float64 `json:"figures,omitempty"`
	Notes   []string           `json:"notes,omitempty"`
	Err     string             `json:"error,omitempty"`
	// ProfileTop is `go tool pprof -top` of the scenario's CPU profile, when one was taken.
	ProfileTop string `json:"profileTop,omitempty"`
	// OtherLoad is the CPU the rest of the machine used while the scenario ran, in cores: the
	// machine's busy time minus the scenario's and the fake's processes (Isolated only; -1 when
	// /proc/stat cannot be read). Steal is the hypervisor's share, in cores, likewise.
	OtherLoad float64 `json:"otherLoad"`
	Steal     float64 `json:"steal"`
}

// Report is a whole harness run.
type Report struct {
	Size     string
	Started  time.Time
	Duration time.Duration
	Isolated bool
	Plan     plan
	Machine  machine
	Results  []Result
}

// Result returns the result of the named scenario, or nil.
func (r *Report) Result(name string) *Result {
	for i := range r.Results {
		if r.Results[i].Scenario == name {
			return &r.Results[i]
		}
	}
	return nil
}

// scenario is one measured run against a fresh fake.
type scenario struct {
	name string
	fake func(p plan, anchor time.Time) fakeSpec
	run  func(ctx context.Context, e *env) error
}

// env is what a scenario's run gets: the plan, the fake, and the result to fill.
type env struct {
	plan   plan
	anchor time.Time
	fake   *fakeTenant
	res    *Result
}

// begin starts a timed phase; end closes it.
func (e *env) begin() usage { return readUsage() }

func (e *env) end(start usage, name string, events, expected int64) {
	wall, cpu := start.since()
	e.res.Phases = append(e.res.Phases, Phase{Name: name, Start: start.at, Events: events, Expected: expected, Wall: wall, CPU: cpu})
}

// endCounted closes a phase whose output was c.
func (e *env) endCounted(start usage, name string, c *counter, expected int64) {
	e.end(start, name, c.total.Load(), expected)
	e.res.Phases[len(e.res.Phases)-1].Errored = c.errored.Load()
}

// endCountedAtReach is endCounted for a pipeline that does not stop at the end of its data
// (the stock http_client starts its walk again): its events are those up to the batch that
// reached expected, not what it read again while being stopped.
func (e *env) endCountedAtReach(start usage, name string, c *counter, expected int64) {
	e.endCounted(start, name, c, expected)
	if r := c.reached.Load(); r > 0 {
		e.res.Phases[len(e.res.Phases)-1].Events = r
	}
}

// snapshotFake records the fake's counters; scenarios call it as soon as the measured part is
// over, before shutting their pipeline down, so later polls do not count.
func (e *env) snapshotFake(ctx context.Context) error {
	st, err := e.fake.stats(ctx)
	if err != nil {
		return err
	}
	e.res.Fake = st
	return nil
}

func (e *env) figure(name string, v float64) {
	if e.res.Figures == nil {
		e.res.Figures = map[string]float64{}
	}
	e.res.Figures[name] = v
}

func (e *env) note(format string, args ...any) {
	e.res.Notes = append(e.res.Notes, fmt.Sprintf(format, args...))
}

// scenarios lists every scenario in report order.
func scenarios() []scenario {
	s := []scenario{
		{name: "threats_drain", fake: threatsFake, run: runThreatsDrain},
		{name: "threats_ceiling", fake: threatsFake, run: runThreatsCeiling},
		{name: "url_threats", fake: urlFake, run: runURLThreats},
		{name: "url_ceiling", fake: urlFake, run: runURLCeiling},
		{name: "url_http_client", fake: urlFake, run: runURLHTTPClient},
		{name: "latency_threats", fake: latencyFake, run: runLatencyThreats},
		{name: "latency_http_client", fake: latencyFake, run: runLatencyHTTPClient},
		{name: "quota_headers_on_429", fake: quotaFake(false), run: runQuota},
		{name: "quota_headers_always", fake: quotaFake(true), run: runQuota},
	}
	for _, c := range []int{1, 4, 16} {
		s = append(s, scenario{name: archiveScenarioName(c), fake: archiveFake(1), run: runArchive(c, 1)})
	}
	// Half the archive at one concurrency: does memory follow the archive's size?
	s = append(s, scenario{name: archiveHalfScenario, fake: archiveFake(2), run: runArchive(archiveHalfConcurrency, 2)})
	s = append(s, scenario{name: "enrich", fake: enrichFake, run: runEnrich})
	return append(s,
		scenario{name: hugeSIEMScenario, fake: hugeSIEMFake, run: runHugeSIEM},
		scenario{name: lyingSizesScenario, fake: lyingSizesFake, run: runLyingSizes})
}

func archiveScenarioName(concurrency int) string {
	return fmt.Sprintf("archive_c%d", concurrency)
}

// Run runs the scenarios of opts and returns the report; a failed scenario is recorded in its
// Result and the others still run.
func Run(ctx context.Context, opts Options) (*Report, error) {
	p, err := planFor(opts.Size)
	if err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	all := scenarios()
	for _, name := range opts.Only {
		if !slices.ContainsFunc(all, func(s scenario) bool { return s.name == name }) {
			return nil, fmt.Errorf("unknown scenario %q", name)
		}
	}
	rep := &Report{Size: p.Size, Started: time.Now(), Isolated: opts.Exe != "", Plan: p, Machine: describeMachine()}
	// One anchor for the whole run: every scenario's backlog ends at the same minute.
	anchor := rep.Started.UTC().Truncate(time.Minute)
	for _, sc := range all {
		if len(opts.Only) > 0 && !slices.Contains(opts.Only, sc.name) {
			continue
		}
		if !planHas(p, sc.name) {
			continue
		}
		fmt.Fprintf(log, "running %s (%s)...\n", sc.name, p.Size)
		var res Result
		if opts.Exe != "" {
			res = runIsolated(ctx, opts.Exe, sc, p, anchor, opts.ProfileDir)
		} else {
			res = runInProcess(ctx, sc, p, anchor)
		}
		fmt.Fprintf(log, "  %s\n", res.summary())
		rep.Results = append(rep.Results, res)
	}
	rep.Duration = time.Since(rep.Started)
	return rep, nil
}

// planHas leaves out archive concurrencies the plan does not list.
func planHas(p plan, name string) bool {
	if !strings.HasPrefix(name, "archive_c") || name == archiveHalfScenario {
		return true
	}
	return slices.ContainsFunc(p.MailboxConcurrency, func(c int) bool { return archiveScenarioName(c) == name })
}

func (r Result) summary() string {
	if r.Err != "" {
		return "FAILED: " + r.Err
	}
	var parts []string
	for _, ph := range r.Phases {
		parts = append(parts, fmt.Sprintf("%s: %d events in %v (%.0f/s, %.1f CPU s/M)",
			ph.Name, ph.Events, ph.Wall.Round(time.Millisecond), ph.EventsPerSecond(), ph.CPUPerMillion()))
	}
	parts = append(parts, fmt.Sprintf("peak RSS %.0f MiB", float64(r.PeakRSS)/(1<<20)))
	return strings.Join(parts, "; ")
}

// runInProcess runs sc with the fake in this process.
func runInProcess(ctx context.Context, sc scenario, p plan, anchor time.Time) Result {
	res := Result{Scenario: sc.name}
	resetPeakRSS()
	fake := startFakeInProcess(sc.fake(p, anchor))
	defer fake.stop()
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	if err := sc.run(ctx, &env{plan: p, anchor: anchor, fake: fake, res: &res}); err != nil {
		res.Err = err.Error()
	}
	res.PeakRSS = peakRSS()
	return res
}

// childRequest is what the parent hands a run-scenario child.
type childRequest struct {
	Scenario string    `json:"scenario"`
	Size     string    `json:"size"`
	FakeURL  string    `json:"fakeURL"`
	Anchor   time.Time `json:"anchor"`
	Profile  string    `json:"profile,omitempty"` // CPU profile file
}

// runIsolated starts the fake and then the scenario, each as a child process of exe.
func runIsolated(ctx context.Context, exe string, sc scenario, p plan, anchor time.Time, profileDir string) Result {
	res := Result{Scenario: sc.name, Isolated: true, OtherLoad: -1, Steal: -1}
	cpuBefore, cpuOK := readCPUTimes()
	started := time.Now()
	fake, err := startFakeProcess(ctx, exe, sc.fake(p, anchor))
	if err != nil {
		res.Err = err.Error()
		return res
	}
	fakeStopped := false
	defer func() {
		if !fakeStopped {
			fake.stop()
		}
	}()
	creq := childRequest{Scenario: sc.name, Size: p.Size, FakeURL: fake.URL, Anchor: anchor}
	if profileDir != "" {
		creq.Profile = filepath.Join(profileDir, sc.name+".pprof")
	}
	req, _ := json.Marshal(creq)
	ctx, cancel := context.WithTimeout(ctx, p.Timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, RunScenarioArg, string(req))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		res.Err = fmt.Sprintf("running %s in a child process: %v", sc.name, err)
		return res
	}
	if err := json.Unmarshal(out, &res); err != nil {
		res.Err = fmt.Sprintf("reading %s's result: %v", sc.name, err)
		return res
	}
	fakeStopped = true
	res.FakeCPU, _ = fake.stop()
	res.Isolated = true
	if cpuAfter, ok := readCPUTimes(); ok && cpuOK {
		own := res.FakeCPU + cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		wall := time.Since(started).Seconds()
		res.OtherLoad = max(cpuAfter.busy-cpuBefore.busy-own, 0).Seconds() / wall
		res.Steal = (cpuAfter.steal - cpuBefore.steal).Seconds() / wall
	}
	if creq.Profile != "" {
		res.ProfileTop = profileTop(ctx, exe, creq.Profile)
	}
	return res
}

// profileTop summarises a CPU profile with `go tool pprof`; empty when no Go toolchain is at
// hand (the profile file is still there).
func profileTop(ctx context.Context, exe, profile string) string {
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=15", exe, profile).Output()
	if err != nil {
		return ""
	}
	// Drop pprof's header lines up to the column titles; keep the table.
	text := string(out)
	if i := strings.Index(text, "      flat  flat%"); i >= 0 {
		text = text[i:]
	}
	return strings.TrimRight(text, "\n")
}

// RunChild is the body of `benchharness run-scenario <request>`: it runs one scenario against
// the fake at the given URL and writes its Result as JSON to stdout.
func RunChild(ctx context.Context, reqJSON string, stdout io.Writer) error {
	var req childRequest
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil {
		return fmt.Errorf("decoding scenario request: %w", err)
	}
	p, err := planFor(req.Size)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(scenarios(), func(s scenario) bool { return s.name == req.Scenario })
	if i < 0 {
		return fmt.Errorf("unknown scenario %q", req.Scenario)
	}
	sc := scenarios()[i]
	res := Result{Scenario: sc.name}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	if req.Profile != "" {
		f, err := os.Create(req.Profile)
		if err != nil {
			return fmt.Errorf("creating the CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("starting the CPU profile: %w", err)
		}
	}
	err = sc.run(ctx, &env{plan: p, anchor: req.Anchor, fake: &fakeTenant{URL: req.FakeURL}, res: &res})
	if req.Profile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		res.Err = err.Error()
	}
	res.PeakRSS = peakRSS()
	return json.NewEncoder(stdout).Encode(res)
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// errIncomplete is returned when a pipeline went quiet before delivering what the fake holds.
var errIncomplete = errors.New("the pipeline stopped delivering before the backlog was drained")
