// Package hostile wraps an HTTP handler (the simulated tenant, or a test's own) in a server that
// misbehaves as a real network or a broken proxy can: it cuts bodies at a chosen byte, trickles
// them, lies about their length, or answers with a status of its own. Tests of every component
// use it to prove that each such fault is handled (retried, resumed, reported) and stays so.
package hostile

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Misbehaviour is what a Rule does to an answer, given the answer the handler gave.
type Misbehaviour interface {
	serve(w http.ResponseWriter, r *http.Request, answer *httptest.ResponseRecorder)
}

// Rule applies Do to the first Times requests (0: every request) for which Match is true.
type Rule struct {
	Match func(r *http.Request) bool
	Times int
	Do    Misbehaviour
}

// Any matches every request.
func Any(*http.Request) bool { return true }

// Path matches the requests to one path.
func Path(p string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.URL.Path == p }
}

// Server is the hostile wrapper of a handler; it counts what it did.
type Server struct {
	next  http.Handler
	rules []Rule

	mu      sync.Mutex
	applied []int // per rule, the requests it misbehaved on
}

// Wrap returns next behind rules; the first rule that matches and has times left applies.
func Wrap(next http.Handler, rules ...Rule) *Server {
	return &Server{next: next, rules: rules, applied: make([]int, len(rules))}
}

// Applied is how many requests rule i misbehaved on.
func (s *Server) Applied(i int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied[i]
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rule := s.take(r)
	if rule == nil {
		s.next.ServeHTTP(w, r)
		return
	}
	answer := httptest.NewRecorder()
	s.next.ServeHTTP(answer, r)
	rule.Do.serve(w, r, answer)
}

func (s *Server) take(r *http.Request) *Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.rules {
		rule := &s.rules[i]
		if rule.Match(r) && (rule.Times == 0 || s.applied[i] < rule.Times) {
			s.applied[i]++
			return rule
		}
	}
	return nil
}

// writeHead sends the answer's status and headers, with Content-Length set to length.
func writeHead(w http.ResponseWriter, answer *httptest.ResponseRecorder, length int) {
	for k, v := range answer.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(length))
	w.WriteHeader(answer.Code)
}

// hangUp closes the connection under a handler, as a reset would.
func hangUp(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if h, ok := w.(http.Hijacker); ok {
		if conn, _, err := h.Hijack(); err == nil {
			_ = conn.Close()
		}
	}
}

// Cut sends the answer's full Content-Length and then only the bytes before At(body) (half the
// body when At is nil or returns a position outside it) before closing the connection: a
// transfer cut in the middle.
type Cut struct {
	At func(body []byte) int
}

func (c Cut) serve(w http.ResponseWriter, _ *http.Request, answer *httptest.ResponseRecorder) {
	body := answer.Body.Bytes()
	at := len(body) / 2
	if c.At != nil {
		if n := c.At(body); n >= 0 && n <= len(body) {
			at = n
		}
	}
	writeHead(w, answer, len(body))
	_, _ = w.Write(body[:at])
	hangUp(w)
}

// Inside returns an At for Cut that cuts k bytes into the first occurrence of marker, or -1
// (half the body) when the body does not hold it.
func Inside(marker string, k int) func([]byte) int {
	return func(body []byte) int {
		i := bytes.Index(body, []byte(marker))
		if i < 0 {
			return -1
		}
		return i + k
	}
}

// Trickle sends the first Head bytes of the answer at once and then one byte every Every, for
// at most For in all (then it hangs up), or until the client goes: a server that is there and
// never done.
type Trickle struct {
	Head  int
	Every time.Duration
	For   time.Duration
}

func (t Trickle) serve(w http.ResponseWriter, r *http.Request, answer *httptest.ResponseRecorder) {
	body := answer.Body.Bytes()
	writeHead(w, answer, len(body))
	head := min(t.Head, len(body))
	_, _ = w.Write(body[:head])
	flush(w)
	tick := time.NewTicker(t.Every)
	defer tick.Stop()
	end := time.After(t.For)
	for i := head; i < len(body); i++ {
		select {
		case <-r.Context().Done():
			return
		case <-end:
			hangUp(w)
			return
		case <-tick.C:
		}
		if _, err := w.Write(body[i : i+1]); err != nil {
			return
		}
		flush(w)
	}
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// LongerThanSent announces Extra bytes more than the answer holds, sends all it holds and
// hangs up: a length that lies.
type LongerThanSent struct {
	Extra int
}

func (l LongerThanSent) serve(w http.ResponseWriter, _ *http.Request, answer *httptest.ResponseRecorder) {
	body := answer.Body.Bytes()
	writeHead(w, answer, len(body)+l.Extra)
	_, _ = w.Write(body)
	hangUp(w)
}

// Status answers Code with Body (and Header) instead of the handler's answer.
type Status struct {
	Code   int
	Header http.Header
	Body   string
}

func (s Status) serve(w http.ResponseWriter, _ *http.Request, _ *httptest.ResponseRecorder) {
	for k, v := range s.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(s.Code)
	_, _ = w.Write([]byte(s.Body))
}
