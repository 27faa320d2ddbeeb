package mimecastfake

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"slices"
	"time"
)

// issuedToken is what the fake remembers about a bearer token it handed out.
type issuedToken struct {
	client  *ClientApp
	expires time.Time
}

// routesAuth registers POST /oauth/token (form-encoded client credentials grant).
func (s *Server) routesAuth() {
	s.mux.Handle("POST /oauth/token", s.countOnly("/oauth/token", s.opts.Latency.API, s.opts.Latency.APIJitter, s.handleToken))
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if s.takeFault(faultTokenEndpointDown) {
		writeGatewayFail(w, http.StatusServiceUnavailable, "service_unavailable", "The service is temporarily unavailable")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeGatewayFail(w, http.StatusBadRequest, "invalid_request", "Request body must be application/x-www-form-urlencoded")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeGatewayFail(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	app := s.clientByCredentials(r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"))
	if app == nil {
		writeGatewayFail(w, http.StatusUnauthorized, "InvalidClientIdentifier", "Client credentials are invalid")
		return
	}
	token := newOpaqueToken()
	now := s.now()
	s.authMu.Lock()
	// Long-expired tokens are dropped on issue so a soak run does not grow the map without bound;
	// recently expired ones stay so that they still answer token_expired rather than unauthorized.
	for k, t := range s.tokens {
		if now.Sub(t.expires) > tokenMemory {
			delete(s.tokens, k)
		}
	}
	s.tokens[token] = issuedToken{client: app, expires: now.Add(s.opts.TokenTTL)}
	s.authMu.Unlock()
	s.noteTokenIssued()
	// expires_in is one second short of the lifetime, as the real endpoint reports 1799 for 30 min.
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token,
		"token_type":   "Bearer",
		"expires_in":   int((s.opts.TokenTTL - time.Second) / time.Second),
		"scope":        "",
	})
}

// tokenMemory is how long an expired token is still recognised as expired.
const tokenMemory = 24 * time.Hour

// clientByCredentials compares in constant time so the fake does not model a timing oracle.
func (s *Server) clientByCredentials(id, secret string) *ClientApp {
	for i := range s.opts.Clients {
		c := &s.opts.Clients[i]
		if subtle.ConstantTimeCompare([]byte(c.ID), []byte(id)) == 1 &&
			subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) == 1 {
			return c
		}
	}
	return nil
}

func newOpaqueToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// authResult is the outcome of checking a request's bearer token.
type authResult int

const (
	authOK authResult = iota
	authMissing
	authExpired
)

// authenticate resolves the bearer token of r to its client.
func (s *Server) authenticate(r *http.Request) (*ClientApp, string, authResult) {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !equalFoldASCII(h[:len(prefix)], prefix) {
		return nil, "", authMissing
	}
	token := h[len(prefix):]
	s.authMu.Lock()
	t, ok := s.tokens[token]
	s.authMu.Unlock()
	if !ok {
		return nil, "", authMissing
	}
	if !s.now().Before(t.expires) {
		return nil, "", authExpired
	}
	return t.client, token, authOK
}

// revokeToken makes token fail as expired from now on (fault ExpireTokens).
func (s *Server) revokeToken(token string) {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	if t, ok := s.tokens[token]; ok {
		t.expires = s.now()
		s.tokens[token] = t
	}
}

func hasProduct(c *ClientApp, product string) bool {
	return product == "" || slices.Contains(c.Products, product)
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
