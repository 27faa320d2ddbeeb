package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// SoakOptions shape a soak run.
type SoakOptions struct {
	Binary string // the mimecast-connect binary (see BuildBinary)
	Dir    string // work directory: the child's log
	// Config is the pipeline; default config/threats_demo.yaml of the module. It must print one
	// JSON line per event with `feed` and `event_id` on stdout, as the demo does, and read the
	// tenant from MIMECAST_API_URL, MIMECAST_CLIENT_ID and MIMECAST_CLIENT_SECRET.
	Config string
	// Feeds and SIEMTypes are what Config reads (default: the demo's), for the ground truth.
	Feeds     []string
	SIEMTypes []string
	Lookback  time.Duration // Config's lookback; default 24h (the demo's)

	Seed        int64
	Duration    time.Duration // faults and sampling; default 10m
	WarmUp      time.Duration // samples before this are not judged; default Duration/6
	SampleEvery time.Duration // default 5s
	FaultEvery  time.Duration // mean time between two injected faults; default 10s
	Drain       time.Duration // after the faults stop, how long the pipeline gets to catch up; default 2m
	Tolerance   float64       // allowed growth, last third of the samples over the first; default 0.2
	Backlog     int           // events per feed before the run; default 1000
	Log         io.Writer     // progress lines; nil = none

	// SIEMBatchWindow is how often the tenant publishes live SIEM batch files; default 20s. The
	// API's 15 minutes would list no new file after the backlog in a run of minutes, so the SIEM
	// file faults, which wait for a listed file, would never be taken.
	SIEMBatchWindow time.Duration
}

func (o *SoakOptions) withDefaults(ctx context.Context) error {
	if o.Config == "" {
		root, err := ModuleRoot(ctx)
		if err != nil {
			return err
		}
		o.Config = filepath.Join(root, "config", "threats_demo.yaml")
	}
	if len(o.Feeds) == 0 {
		o.Feeds = []string{"threat_events", "url_protect", "attachment_protect", "impersonation_protect", "held_messages", "siem"}
	}
	if len(o.SIEMTypes) == 0 {
		o.SIEMTypes = crashSIEMTypes // the input's default: the threat types
	}
	if o.Lookback <= 0 {
		o.Lookback = 24 * time.Hour
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Minute
	}
	if o.WarmUp <= 0 {
		o.WarmUp = o.Duration / 6
	}
	if o.SampleEvery <= 0 {
		o.SampleEvery = 5 * time.Second
	}
	if o.FaultEvery <= 0 {
		o.FaultEvery = 10 * time.Second
	}
	if o.Drain <= 0 {
		o.Drain = 2 * time.Minute
	}
	if o.Tolerance <= 0 {
		o.Tolerance = 0.2
	}
	if o.Backlog <= 0 {
		o.Backlog = 1000
	}
	if o.SIEMBatchWindow <= 0 {
		o.SIEMBatchWindow = 20 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// soakLiveEventsPerHour is the fake's most: new events keep arriving in every feed all along.
const soakLiveEventsPerHour = 1800

// RunSoak runs the pipeline against a tenant with new events arriving and faults injected at
// random, samples its memory and goroutines, then stops the faults, lets it catch up and
// compares what it printed with what the tenant holds.
func RunSoak(ctx context.Context, opts SoakOptions) (*SoakReport, error) {
	if err := opts.withDefaults(ctx); err != nil {
		return nil, err
	}
	fake, err := StartFake(mimecastfake.Options{
		Seed: opts.Seed,
		Sizes: mimecastfake.Sizes{
			EventsPerFeed: opts.Backlog, LiveEventsPerHour: soakLiveEventsPerHour, Span: 12 * time.Hour,
			SIEMBatchWindow: opts.SIEMBatchWindow,
		},
	})
	if err != nil {
		return nil, err
	}
	defer fake.Close()
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the output pipe: %w", err)
	}
	defer pr.Close()
	child, err := StartChild(ChildSpec{
		Binary: opts.Binary,
		Args: []string{"run",
			"--set", "http.enabled=true",
			"--set", "http.address=" + addr,
			"--set", "metrics.prometheus.add_process_metrics=true",
			"--set", "metrics.prometheus.add_go_metrics=true",
			"--set", "logger.level=warn",
			opts.Config},
		Env:    fake.Env(),
		Stderr: filepath.Join(opts.Dir, "soak.log"),
		Stdout: pw,
	})
	_ = pw.Close() // the child holds its own copy; EOF comes when it exits
	if err != nil {
		return nil, err
	}
	defer child.Kill()
	started := time.Now()
	out := newEventCounter()
	readDone := make(chan error, 1)
	go func() { readDone <- out.read(pr) }()

	rep := &SoakReport{Seed: opts.Seed, Duration: opts.Duration, WarmUp: opts.WarmUp, Tolerance: opts.Tolerance,
		SIEMBatchWindow: opts.SIEMBatchWindow, Faults: map[string]int{}, FaultsFired: map[string]int{}}
	if err := soakLoop(ctx, opts, fake, child, out, "http://"+addr+"/metrics", started, rep); err != nil {
		return rep, err
	}

	// Catch up without faults: everything the tenant holds now must come out.
	fake.SetFaults(mimecastfake.Faults{})
	truth, err := threatsTruth(ctx, fake.URL, opts.Feeds, opts.SIEMTypes, started.Add(-opts.Lookback), time.Now())
	if err != nil {
		return rep, fmt.Errorf("listing the tenant's events: %w", err)
	}
	drainStart := time.Now()
	for out.missing(truth) > 0 && time.Since(drainStart) < opts.Drain {
		select {
		case <-child.Done():
			return rep, fmt.Errorf("the pipeline exited while catching up: %v", child.ExitErr())
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	rep.CatchUp = time.Since(drainStart)
	if _, err := child.Stop(30 * time.Second); err != nil {
		return rep, fmt.Errorf("stopping the pipeline: %w", err)
	}
	select {
	case err := <-readDone:
		if err != nil {
			return rep, err
		}
	case <-time.After(10 * time.Second):
		return rep, errors.New("the pipeline's output did not close after it stopped")
	}
	// Listed again once the pipeline stopped, so every event it printed is in it.
	after, err := threatsTruth(ctx, fake.URL, opts.Feeds, opts.SIEMTypes, started.Add(-opts.Lookback), time.Now().Add(time.Minute))
	if err != nil {
		return rep, fmt.Errorf("listing the tenant's events: %w", err)
	}
	out.judge(rep, truth, after)
	st := fake.Stats()
	for _, n := range st.Calls {
		rep.APICalls += n
	}
	rep.RateLimited = st.RateLimited
	rep.ServerErrors = serverErrors(fake)
	return rep, nil
}

// serverErrors counts the 5xx answers the tenant gave so far.
func serverErrors(fake *Fake) int {
	n := 0
	for status, c := range fake.Stats().Statuses {
		if status >= 500 {
			n += c
		}
	}
	return n
}

// soakLoop samples and injects faults until opts.Duration has passed. A fault stays set until a
// request takes it or its faultHold passes, whichever comes first, and at least until the next
// fault is due.
func soakLoop(ctx context.Context, opts SoakOptions, fake *Fake, child *Child, out *eventCounter, metricsURL string, started time.Time, rep *SoakReport) error {
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x736f616b))
	deck := &faultDeck{rng: rng}
	client := &http.Client{Timeout: 5 * time.Second}
	sample := time.NewTicker(opts.SampleEvery)
	defer sample.Stop()
	end := time.NewTimer(opts.Duration)
	defer end.Stop()
	nextFault := func() *time.Timer {
		return time.NewTimer(time.Duration(float64(opts.FaultEvery) * (0.5 + rng.Float64())))
	}
	fault := nextFault()
	defer func() { fault.Stop() }()
	// The fault set last, to tell whether it fired before the next one replaced it.
	var (
		lastName  string
		lastSet   mimecastfake.Faults
		last5xx   int
		holdUntil time.Time // the last fault is not replaced before this unless it was taken
	)
	settle := func() {
		if lastName == "" {
			return
		}
		if countedDown(lastSet, fake.Faults()) || (lastSet.ServerErrorFor > 0 && serverErrors(fake) > last5xx) {
			rep.FaultsFired[lastName]++
		}
	}
	defer settle()
	scrapeFailures := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-child.Done():
			return fmt.Errorf("the pipeline exited during the soak: %v", child.ExitErr())
		case <-end.C:
			return nil
		case <-fault.C:
			if time.Now().Before(holdUntil) && !countedDown(lastSet, fake.Faults()) {
				fault = time.NewTimer(min(time.Second, time.Until(holdUntil)))
				continue
			}
			settle()
			f := deck.next()
			lastName, lastSet, last5xx = f.name, f.pick(rng), serverErrors(fake)
			holdUntil = time.Now().Add(faultHold(lastSet, opts.SIEMBatchWindow, opts.FaultEvery))
			fake.SetFaults(lastSet)
			rep.Faults[f.name]++
			fault = nextFault()
		case <-sample.C:
			s, err := scrapeMetrics(ctx, client, metricsURL)
			if err != nil {
				// The HTTP server may not be up in the first second; a run that cannot be
				// measured at all must fail, not pass.
				if scrapeFailures++; scrapeFailures > 5 {
					return err
				}
				continue
			}
			s.At = time.Since(started)
			s.Events = out.lineCount()
			rep.Samples = append(rep.Samples, s)
			fmt.Fprintf(opts.Log, "soak %v: rss %.1f MiB, heap %.1f MiB, %v goroutines, %d events\n",
				s.At.Round(time.Second), s.RSSBytes/(1<<20), s.HeapBytes/(1<<20), s.Goroutines, s.Events)
		}
	}
}

// freeLoopbackAddr finds a free loopback port for the binary's HTTP server.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// eventCounter reads the demo's output lines.
type eventCounter struct {
	mu          sync.Mutex
	seen        map[string]int
	lines       int
	undecodable int
}

func newEventCounter() *eventCounter { return &eventCounter{seen: map[string]int{}} }

func (c *eventCounter) read(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			c.add(line)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the pipeline's output: %w", err)
		}
	}
}

func (c *eventCounter) add(line []byte) {
	var ev struct {
		Feed    string `json:"feed"`
		EventID string `json:"event_id"`
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines++
	// A malformed SIEM line is emitted error-flagged with its raw text, which is not JSON.
	if err := json.Unmarshal(line, &ev); err != nil || ev.EventID == "" {
		c.undecodable++
		return
	}
	c.seen[threatKey(ev.Feed, ev.EventID)]++
}

func (c *eventCounter) lineCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines
}

func (c *eventCounter) missing(truth map[string]int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k := range truth {
		if c.seen[k] == 0 {
			n++
		}
	}
	return n
}

// judge fills the event figures of rep: truth is what the tenant held when the faults
// stopped (all of it must be out), after what it held once the pipeline stopped (everything
// out must be in it).
func (c *eventCounter) judge(rep *SoakReport, truth, after map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rep.Events = len(truth)
	rep.Lines = c.lines
	rep.Undecodable = c.undecodable
	for k := range truth {
		if c.seen[k] == 0 {
			rep.Lost++
			if len(rep.LostSample) < 5 {
				rep.LostSample = append(rep.LostSample, k)
			}
		}
	}
	for k, n := range c.seen {
		held := after[k]
		if held == 0 {
			rep.Unknown++
			continue
		}
		rep.Duplicates += max(0, n-held)
	}
}
