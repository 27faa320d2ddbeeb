package mimecast

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// token is an access token as the client holds it. Callers compare tokens by pointer, so that a
// 401 invalidates the token that was sent and not a newer one another goroutine already fetched.
type token struct {
	access string
	expiry time.Time // zero: the server gave no lifetime; used until a 401
}

// tokenFetch is one request to the token endpoint; every caller that needs a token while it runs
// waits for its result, so a cold start of many goroutines makes one request.
type tokenFetch struct {
	done chan struct{}
	tok  *token
	err  error
}

// tokenSource is the OAuth2 client-credentials token shared by every caller of a Client. It
// plays the part of oauth2.ReuseTokenSource, with two differences the client needs: expiry is
// judged with Config.Now and TokenExpiryOffset, and a 401 can invalidate the token.
type tokenSource struct {
	conf       clientcredentials.Config
	httpClient *http.Client // the token stack (client.go): stats, trace, buffer, timeout
	endpoint   string       // path of the token URL, for errors and metrics
	offset     time.Duration
	now        func() time.Time
	redact     *redactor
	life       context.Context // cancelled by Client.Close; fetches outlive any one caller
	onFetch    func()
	log        Logger
	shortOnce  sync.Once // the warning about tokens that live less than the offset

	mu       sync.Mutex
	current  *token
	inflight *tokenFetch
}

func newTokenSource(life context.Context, cfg *Config, httpClient *http.Client, redact *redactor, onFetch func()) *tokenSource {
	endpoint := "/oauth/token"
	if u, err := url.Parse(cfg.AuthURL); err == nil && u.Path != "" {
		endpoint = u.Path
	}
	return &tokenSource{
		conf: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     cfg.AuthURL,
			// Mimecast reads client_id and client_secret from the form, not from Basic auth;
			// fixing the style also stops the library from probing both.
			AuthStyle: oauth2.AuthStyleInParams,
		},
		httpClient: httpClient,
		endpoint:   endpoint,
		offset:     cfg.TokenExpiryOffset,
		now:        cfg.Now,
		redact:     redact,
		life:       life,
		onFetch:    onFetch,
		log:        cfg.Logger,
	}
}

// token returns a usable token. cached is true when the token was obtained before this call
// began: a 401 then likely means the server dropped it early, and one refresh is worth trying.
func (s *tokenSource) token(ctx context.Context) (tok *token, cached bool, err error) {
	s.mu.Lock()
	if t := s.current; t != nil && s.valid(t) {
		s.mu.Unlock()
		return t, true, nil
	}
	f := s.inflight
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		s.inflight = f
		// The fetch runs on the client's lifetime, not the caller's context: other callers wait
		// for the same fetch, and one caller giving up must not fail them all.
		go s.fetch(f)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, false, f.err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// valid reports whether t can still be sent: the effective expiry is expiry + offset, so a
// negative offset refreshes early.
func (s *tokenSource) valid(t *token) bool {
	return t.expiry.IsZero() || s.now().Before(t.expiry.Add(s.offset))
}

// invalidate forgets t if it is still the current token. Many goroutines hitting 401 with the
// same token therefore cause one new fetch.
func (s *tokenSource) invalidate(t *token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == t {
		s.current = nil
	}
}

func (s *tokenSource) fetch(f *tokenFetch) {
	tok, err := s.retrieve()
	s.mu.Lock()
	if err == nil {
		s.current = tok
	}
	s.inflight = nil
	s.mu.Unlock()
	f.tok, f.err = tok, err
	close(f.done)
}

// fetchErr carries the transport error of a token request past the oauth2 package, which
// flattens it into a string (and with it, whether it is worth retrying).
type fetchErr struct{ err error }

type fetchErrKey struct{}

func (s *tokenSource) retrieve() (*token, error) {
	if s.onFetch != nil {
		s.onFetch()
	}
	captured := &fetchErr{}
	ctx := context.WithValue(s.life, oauth2.HTTPClient, s.httpClient)
	ctx = context.WithValue(ctx, fetchErrKey{}, captured)
	ctx = withEndpoint(ctx, s.endpoint)
	t, err := s.conf.Token(ctx)
	if err != nil {
		return nil, s.fetchError(err, captured.err)
	}
	tok := &token{access: t.AccessToken}
	if !t.Expiry.IsZero() {
		// oauth2 computes Expiry on the wall clock; keep the lifetime and restate it on
		// Config.Now so that tests and the expiry offset work on one clock.
		now := s.now()
		life := time.Until(t.Expiry)
		tok.expiry = now.Add(life)
		if life > 0 && life+s.offset <= 0 {
			// Refreshing -offset before expiry would mean a token fetch before every call: use
			// each token for half its life instead.
			s.shortOnce.Do(func() {
				s.log.Warnf("mimecast %s: access tokens live %v, less than token_expiry_offset asks to refresh before expiry (%v); each token is used for half its life", s.endpoint, life.Round(time.Second), -s.offset)
			})
			tok.expiry = now.Add(life/2 - s.offset)
		}
	}
	s.redact.addToken(t.AccessToken)
	return tok, nil
}

// fetchError maps a token failure to an *APIError: a refusal (401 InvalidClientIdentifier,
// 400 invalid_client) is permanent; a 5xx, a 429 or a network error is retryable, and the retry
// layer of the API call that needed the token backs off and asks again.
func (s *tokenSource) fetchError(err, transportErr error) error {
	if s.life.Err() != nil {
		return fmt.Errorf("fetching token: %w", errClientClosed)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return errorFromBody(s.redact, s.endpoint, re.Response.StatusCode, re.Body)
	}
	if transportErr != nil {
		var apiErr *APIError
		if errors.As(transportErr, &apiErr) {
			return s.redact.apiError(apiErr)
		}
		return &APIError{Endpoint: s.endpoint, Retryable: retryableError(transportErr), Err: transportErr}
	}
	// A 2xx the library could not use (no access_token, not JSON): most likely a proxy page.
	return &APIError{Endpoint: s.endpoint, StatusCode: http.StatusOK, Retryable: true,
		Err: errors.New(s.redact.String(err.Error()))}
}

var errClientClosed = errors.New("client closed")

// captureTransport records the transport error of a token request (see fetchErr).
type captureTransport struct{ next http.RoundTripper }

func (t captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		if c, ok := req.Context().Value(fetchErrKey{}).(*fetchErr); ok {
			c.err = err
		}
	}
	return resp, err
}
