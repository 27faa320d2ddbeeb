package mimecast

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Values the redaction tests look for in every log line and error.
const (
	rigClientID     = "rig-client-id"
	rigClientSecret = "rig-SECRET-value-9f8e7d"
	rigTokenPrefix  = "rig-ACCESS-token-"
)

// fakeClock is Config.Now and Config.Sleep for tests: Sleep records the wait and moves the clock
// to the caller's wake-up time (never backwards), so that concurrent sleepers to the same
// instant move it once.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	if wake := c.now.Add(d); wake.After(c.now) {
		c.now = wake
	}
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// logRecorder is a Logger keeping every line.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) add(level, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, args...))
}

func (l *logRecorder) Debugf(f string, a ...any) { l.add("DEBUG", f, a...) }
func (l *logRecorder) Infof(f string, a ...any)  { l.add("INFO", f, a...) }
func (l *logRecorder) Warnf(f string, a ...any)  { l.add("WARN", f, a...) }
func (l *logRecorder) Errorf(f string, a ...any) { l.add("ERROR", f, a...) }

func (l *logRecorder) Text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// metricsRecorder is a Metrics keeping every event as "kind endpoint detail".
type metricsRecorder struct {
	mu     sync.Mutex
	events []string
}

func (m *metricsRecorder) add(s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, s)
}

func (m *metricsRecorder) Call(endpoint, status string, _ time.Duration) {
	m.add("call " + endpoint + " " + status)
}
func (m *metricsRecorder) RateLimited(endpoint string)   { m.add("rate_limited " + endpoint) }
func (m *metricsRecorder) Retry(endpoint, reason string) { m.add("retry " + endpoint + " " + reason) }

func (m *metricsRecorder) Events() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.events...)
}

// rig is a Client wired to one httptest server that serves /oauth/token itself and hands every
// other path to api.
type rig struct {
	srv     *httptest.Server
	client  *Client
	clock   *fakeClock
	logs    *logRecorder
	metrics *metricsRecorder

	tokens    atomic.Int32 // token requests received
	expiresIn int
	// token, when set, answers the n-th token request (1-based) instead of the default.
	token func(w http.ResponseWriter, r *http.Request, n int)
	api   http.HandlerFunc
}

func newRig(t *testing.T, api http.HandlerFunc, opts ...func(*Config)) *rig {
	t.Helper()
	r := &rig{clock: newFakeClock(), logs: &logRecorder{}, metrics: &metricsRecorder{}, expiresIn: 1799, api: api}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	cfg := Config{
		APIURL:       r.srv.URL,
		ClientID:     rigClientID,
		ClientSecret: rigClientSecret,
		Timeout:      5 * time.Second,
		MaxRetryWait: time.Minute,
		Logger:       r.logs,
		Metrics:      r.metrics,
		Now:          r.clock.Now,
		Sleep:        r.clock.Sleep,
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	r.client = c
	return r
}

func (r *rig) serve(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/oauth/token" {
		r.api(w, req)
		return
	}
	n := int(r.tokens.Add(1))
	if r.token != nil {
		r.token(w, req, n)
		return
	}
	serveToken(w, req, n, r.expiresIn)
}

// serveToken answers like Mimecast's token endpoint: form credentials, a 30-minute token.
func serveToken(w http.ResponseWriter, req *http.Request, n, expiresIn int) {
	if err := req.ParseForm(); err != nil || req.PostForm.Get("client_id") != rigClientID ||
		req.PostForm.Get("client_secret") != rigClientSecret || req.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusUnauthorized, `{"fail":[{"code":"InvalidClientIdentifier","message":"Client credentials are invalid"}]}`)
		return
	}
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"access_token":"%s%d","token_type":"Bearer","expires_in":%d,"scope":""}`, rigTokenPrefix, n, expiresIn))
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// okEnvelope is a one-record answer.
const okEnvelope = `{"meta":{"status":200},"data":[{"id":"a"}],"fail":[]}`

// bearer returns the token number a request carries (0 for none).
func bearer(r *http.Request) int {
	var n int
	_, _ = fmt.Sscanf(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "+rigTokenPrefix), "%d", &n)
	return n
}

// requestJSON reads a JSON request body into a generic value (nil when it is not JSON); handlers
// run on server goroutines, where require must not be used.
func requestJSON(r *http.Request) any {
	var v any
	if json.NewDecoder(r.Body).Decode(&v) != nil {
		return nil
	}
	return v
}
