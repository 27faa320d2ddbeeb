package mimecastfake

import (
	"encoding/json"
	"maps"
	"net/http"
)

// Stats is a snapshot of what the fake has served since New or the last ResetStats. Tests and
// benchmarks use it to assert on client behaviour (how many calls, how many retries, whether a
// page was fetched twice, how much concurrency the client used).
type Stats struct {
	// Calls counts requests per endpoint path (e.g. "/api/ttp/url/get-logs", "/oauth/token"),
	// whatever their outcome.
	Calls map[string]int `json:"calls"`
	// Statuses counts responses per HTTP status across all endpoints.
	Statuses map[int]int `json:"statuses"`
	// EndpointStatuses counts responses per endpoint path and HTTP status.
	EndpointStatuses map[string]map[int]int `json:"endpointStatuses"`
	// TokensIssued counts successful POST /oauth/token responses.
	TokensIssued int `json:"tokensIssued"`
	// RateLimited counts 429 responses (quota and injected bursts).
	RateLimited int `json:"rateLimited"`
	// MaxConcurrent is the highest number of requests in flight at once.
	MaxConcurrent int `json:"maxConcurrent"`
	// PagesServedTwice counts pages (identified by their page token) served more than once:
	// a client that re-fetches pages it already had shows up here.
	PagesServedTwice int `json:"pagesServedTwice"`
}

type statsState struct {
	calls     map[string]int
	statuses  map[int]int
	byPath    map[string]map[int]int
	tokens    int
	limited   int
	inFlight  int
	maxFlight int
	pages     map[string]int // endpoint + page token -> times served
	twice     int
}

func (st *statsState) reset() {
	inFlight := st.inFlight
	*st = statsState{
		calls:    map[string]int{},
		statuses: map[int]int{},
		byPath:   map[string]map[int]int{},
		pages:    map[string]int{},
		inFlight: inFlight,
	}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := Stats{
		Calls:            maps.Clone(s.stats.calls),
		Statuses:         maps.Clone(s.stats.statuses),
		EndpointStatuses: make(map[string]map[int]int, len(s.stats.byPath)),
		TokensIssued:     s.stats.tokens,
		RateLimited:      s.stats.limited,
		MaxConcurrent:    s.stats.maxFlight,
		PagesServedTwice: s.stats.twice,
	}
	for p, m := range s.stats.byPath {
		out.EndpointStatuses[p] = maps.Clone(m)
	}
	return out
}

// ResetStats zeroes the counters; requests in flight stay counted in the concurrency gauge.
func (s *Server) ResetStats() {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats.reset()
}

// beginRequest counts a call to path and raises the concurrency gauge.
func (s *Server) beginRequest(path string) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats.calls[path]++
	s.stats.inFlight++
	s.stats.maxFlight = max(s.stats.maxFlight, s.stats.inFlight)
}

// endRequest records the status sent for path and lowers the gauge.
func (s *Server) endRequest(path string, status int) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats.inFlight--
	s.stats.statuses[status]++
	m := s.stats.byPath[path]
	if m == nil {
		m = map[int]int{}
		s.stats.byPath[path] = m
	}
	m[status]++
	if status == http.StatusTooManyRequests {
		s.stats.limited++
	}
}

func (s *Server) noteTokenIssued() {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats.tokens++
}

// notePageServed records that the page asked for with token was served on endpoint. First pages
// (empty token) are not tracked: asking for page one again is a new crawl, not a re-fetch.
//
// A token whose earlier answers were all empty is not counted when asked for again: that is how
// a caught-up client polls a cursor (the SIEM batch listing hands back the same @nextPage until
// new files exist), not a re-fetch of data it already had.
func (s *Server) notePageServed(endpoint, token string, empty bool) {
	if token == "" {
		return
	}
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	k := endpoint + "\x00" + token
	if s.stats.pages[k] > 0 && s.stats.pages[k] != twiceCounted {
		s.stats.twice++
		s.stats.pages[k] = twiceCounted
	}
	if !empty && s.stats.pages[k] == 0 {
		s.stats.pages[k] = 1
	}
}

// twiceCounted marks a page already counted in PagesServedTwice.
const twiceCounted = -1

// markEmptyPage tells the stats that the page being answered holds no records.
func markEmptyPage(w http.ResponseWriter) {
	if rec, ok := w.(*statusRecorder); ok {
		rec.emptyPage = true
	}
}

// routesControl registers the fake's own control endpoints, so a test driving the fake-api
// binary from outside can inject faults and read counters. They take no token and are not
// counted in Stats.
func (s *Server) routesControl() {
	s.mux.HandleFunc("GET /_fake/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	s.mux.HandleFunc("DELETE /_fake/stats", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /_fake/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	s.mux.HandleFunc("PUT /_fake/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			writeGatewayFail(w, http.StatusBadRequest, "invalid_faults", "Body must be a JSON Faults object")
			return
		}
		s.SetFaults(f)
		writeJSON(w, http.StatusOK, s.Faults())
	})
}
