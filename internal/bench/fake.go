package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// fakeSpec is the part of mimecastfake.Options a scenario sets. It is JSON so that the harness can
// hand it to a fake running in a process of its own (Options holds a clock func, which JSON
// cannot carry).
type fakeSpec struct {
	Seed              int64
	Anchor            time.Time
	EventsPerFeed     int
	Span              time.Duration
	SIEMEventsPerFile int

	QuotaLimit         int
	QuotaWindow        time.Duration
	QuotaHeadersAlways bool

	Domains, LocalDomains, UsersPerDomain int
	MessagesPerMailbox                    int
	AttachmentBytes, LargeAttachmentPct   int

	SIEMLinePadBytes    int // pads every SIEM line (huge records)
	ArchiveReportedSize int // the size every archive search hit reports (a lying search)

	Latency, LatencyJitter time.Duration // of every API call
}

func (s fakeSpec) options() mimecastfake.Options {
	return mimecastfake.Options{
		Seed:   s.Seed,
		Anchor: s.Anchor,
		Quota:  mimecastfake.Quota{Limit: s.QuotaLimit, Window: s.QuotaWindow, HeadersAlways: s.QuotaHeadersAlways},
		Sizes: mimecastfake.Sizes{
			Domains:            s.Domains,
			LocalDomains:       s.LocalDomains,
			UsersPerDomain:     s.UsersPerDomain,
			MessagesPerMailbox: s.MessagesPerMailbox,
			AttachmentBytes:    s.AttachmentBytes,
			LargeAttachmentPct: s.LargeAttachmentPct,
			EventsPerFeed:      s.EventsPerFeed,
			Span:               s.Span,
			SIEMEventsPerFile:  s.SIEMEventsPerFile,
			SIEMLinePadBytes:   s.SIEMLinePadBytes,
		},
		Faults:  mimecastfake.Faults{ArchiveReportedSize: s.ArchiveReportedSize},
		Latency: mimecastfake.Latency{API: s.Latency, APIJitter: s.LatencyJitter},
	}
}

// fakeTenant is a running fake: its base URL, its counters over HTTP, and how to stop it.
type fakeTenant struct {
	URL string
	// stop ends the fake and returns the CPU it used when it ran in a process of its own.
	stop func() (cpu time.Duration, separate bool)
}

// stats reads the fake's counters through its control endpoint, which works the same whether
// the fake is in this process or another.
func (f *fakeTenant) stats(ctx context.Context) (mimecastfake.Stats, error) {
	var st mimecastfake.Stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL+"/_fake/stats", nil)
	if err != nil {
		return st, fmt.Errorf("reading fake stats: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("reading fake stats: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("decoding fake stats: %w", err)
	}
	return st, nil
}

// rateLimitLog wraps the fake and notes when it answered 429, so that the quota scenario can
// count 429s per quota window (the fake's own stats only count them). GET /_bench/429s lists
// the times, in Unix nanoseconds.
type rateLimitLog struct {
	next http.Handler
	mu   sync.Mutex
	at   []int64
}

func (l *rateLimitLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == rateLimitLogPath {
		l.mu.Lock()
		defer l.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(l.at)
		return
	}
	l.next.ServeHTTP(&statusWatch{ResponseWriter: w, log: l}, r)
}

const rateLimitLogPath = "/_bench/429s"

type statusWatch struct {
	http.ResponseWriter
	log *rateLimitLog
}

func (s *statusWatch) WriteHeader(code int) {
	if code == http.StatusTooManyRequests {
		s.log.mu.Lock()
		s.log.at = append(s.log.at, time.Now().UnixNano())
		s.log.mu.Unlock()
	}
	s.ResponseWriter.WriteHeader(code)
}

// Flush keeps streaming answers (archive content) streaming through the wrapper.
func (s *statusWatch) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func newFakeHandler(spec fakeSpec) http.Handler {
	return &rateLimitLog{next: mimecastfake.New(spec.options())}
}

// rateLimitedAt returns when the fake answered 429.
func (f *fakeTenant) rateLimitedAt(ctx context.Context) ([]time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL+rateLimitLogPath, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the 429 log: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading the 429 log: %w", err)
	}
	defer resp.Body.Close()
	var ns []int64
	if err := json.NewDecoder(resp.Body).Decode(&ns); err != nil {
		return nil, fmt.Errorf("decoding the 429 log: %w", err)
	}
	out := make([]time.Time, len(ns))
	for i, n := range ns {
		out[i] = time.Unix(0, n)
	}
	return out, nil
}

// startFakeInProcess serves the fake on loopback from this process.
func startFakeInProcess(spec fakeSpec) *fakeTenant {
	srv := httptest.NewServer(newFakeHandler(spec))
	return &fakeTenant{URL: srv.URL, stop: func() (time.Duration, bool) {
		srv.Close()
		return 0, false
	}}
}

// startFakeProcess runs `exe serve-fake <spec>` and waits for it to print its URL. Run in a
// process of its own, the fake's CPU and memory stay out of the figures of the process measured.
func startFakeProcess(ctx context.Context, exe string, spec fakeSpec) (*fakeTenant, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encoding fake spec: %w", err)
	}
	cmd := exec.Command(exe, ServeFakeArg, string(b))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("starting fake: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting fake: %w", err)
	}
	stop := func() (time.Duration, bool) {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if cmd.ProcessState == nil {
			return 0, false
		}
		return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), true
	}
	urlc := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		urlc <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case u := <-urlc:
		if !strings.HasPrefix(u, "http://") {
			stop()
			return nil, fmt.Errorf("starting fake: it printed %q instead of its URL", u)
		}
		return &fakeTenant{URL: u, stop: stop}, nil
	case <-time.After(30 * time.Second):
		stop()
		return nil, errors.New("starting fake: no URL within 30s")
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
}

// ServeFake is the body of `benchharness serve-fake <spec>`: it serves the fake on a loopback
// port, prints the URL as the first line of stdout, and serves until SIGTERM or SIGINT.
func ServeFake(ctx context.Context, specJSON string, stdout io.Writer) error {
	var spec fakeSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return fmt.Errorf("decoding fake spec: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for the fake: %w", err)
	}
	srv := &http.Server{Handler: newFakeHandler(spec), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "http://%s\n", ln.Addr())
	select {
	case err := <-served:
		return fmt.Errorf("serving the fake: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	return nil
}

// The credentials of the fake's default application.
const (
	fakeClientID     = mimecastfake.DefaultClientID
	fakeClientSecret = mimecastfake.DefaultClientSecret
)
