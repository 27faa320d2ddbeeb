package mimecastfake

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server is the fake tenant. It is safe for concurrent use.
type Server struct {
	opts   Options
	mux    *http.ServeMux
	tenant *tenant

	mu          sync.Mutex // guards faults, faultsSetAt and cycleWalks
	faults      Faults
	faultsSetAt time.Time
	cycleWalks  map[string][]string // list_faults.go: follow-up tokens per walk, while PageCycles is armed

	authMu sync.Mutex // guards tokens
	tokens map[string]issuedToken

	quotaMu sync.Mutex // guards quotas
	quotas  map[string]*quotaWindow

	statsMu sync.Mutex // guards stats and inFlight
	stats   statsState

	archive archiveState // archive_state.go: mailboxes and mail changed at run time

	accountID string // accountCode, formatted once: every SIEM event carries it

	requestSeq atomic.Int64 // numbers the X-Request-Id of API answers
	unverified atomic.Int64 // alternates the codes of the UnverifiedTokens fault
}

// New builds a fake tenant from opts (zero values take the documented defaults).
func New(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:   opts,
		mux:    http.NewServeMux(),
		faults: opts.Faults,
		tokens: map[string]issuedToken{},
		quotas: map[string]*quotaWindow{},
	}
	s.faultsSetAt = s.now()
	s.stats.reset()
	s.tenant = newTenant(opts)
	s.accountID = accountCode(opts.Seed)
	s.routes()
	return s
}

// now is the tenant clock (Options.Now); every time-dependent behaviour reads it.
func (s *Server) now() time.Time { return s.opts.Now() }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// routes registers every endpoint. Each group lives in the file named for it.
func (s *Server) routes() {
	s.routesAuth()      // auth.go: POST /oauth/token
	s.routesDirectory() // directory.go: domains, users, account
	s.routesTTP()       // ttp.go: url / attachment / impersonation logs
	s.routesHeld()      // held.go: hold list, held release logs
	s.routesThreats()   // threats.go: GET /threats/v1/events
	s.routesTracking()  // tracking.go: message-finder search + get-message-info
	s.routesArchive()   // archive.go: search, message list, detail, part, file
	s.routesSIEM()      // siem.go: batch listing + signed files, stream endpoint
	s.routesControl()   // stats.go: /_fake/faults and /_fake/stats for out-of-process tests
}

// apiRequest is the fake's own reading of the /api/* request envelope. pageSize is tolerated as
// a number or a string, as the real API does.
type apiRequest struct {
	Meta struct {
		Pagination struct {
			PageSize  json.Number `json:"pageSize"`
			PageToken string      `json:"pageToken"`
		} `json:"pagination"`
	} `json:"meta"`
	Data []json.RawMessage `json:"data"`
}

// apiHandler serves one /api/* endpoint after the middleware accepted the call.
type apiHandler func(w http.ResponseWriter, r *http.Request, req *apiRequest)
