package mimecast

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// authTransport adds the bearer token to requests for the API host, and only that host: a
// request elsewhere (a redirect, a pre-signed URL) goes out without it. A 401 on a token that was
// obtained before the call, or any 401 whose code says the token expired or could not be
// verified (token_expired, token_verification_failed, "Unauthorized Request"), invalidates the
// token and repeats the call once with a fresh one; a second 401 is the caller's (and the retry
// layer's, for the codes that heal).
type authTransport struct {
	next   http.RoundTripper
	tokens *tokenSource
	api    *url.URL // scheme and host that may see the token
	// onRefresh, when set, hears of a call repeated with a new token after a 401, why the old
	// one was refused (its fail code, or "401") and the refused answer's x-request-id, if any.
	onRefresh func(endpoint, why, requestID string)
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !sameOrigin(req.URL, t.api) {
		return t.next.RoundTrip(req)
	}
	tok, cached, err := t.tokens.token(req.Context())
	if err != nil {
		return nil, wrapTokenError(err)
	}
	resp, err := t.next.RoundTrip(withBearer(req, tok))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	// A token fetched for this very call that is refused will be refused again, unless the
	// server says it expired or could not be verified.
	code := refusedTokenCode(resp)
	if refresh := cached || code != ""; !refresh || !replayable(req) {
		return resp, nil
	}
	again, err := replay(req)
	if err != nil {
		return resp, nil
	}
	refusedID := requestID(resp.Header)
	discard(resp)
	t.tokens.invalidate(tok)
	if tok, _, err = t.tokens.token(req.Context()); err != nil {
		return nil, wrapTokenError(err)
	}
	resp, err = t.next.RoundTrip(withBearer(again, tok))
	if err == nil && resp.StatusCode != http.StatusUnauthorized && t.onRefresh != nil {
		why := "401"
		if code != "" {
			why = code
		}
		t.onRefresh(endpointOf(req), why, refusedID)
	}
	return resp, err
}

// tokenError marks an API call that failed because no token could be had, so that retries are
// reported as the token endpoint's failure rather than the API's. It is transparent otherwise:
// same text, and errors.As/Is see through it.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

func wrapTokenError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &tokenError{err: err}
}

func withBearer(req *http.Request, tok *token) *http.Request {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok.access)
	return r
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// refusedTokenCode peeks at a 401 body for a fail code saying the token, not the credentials,
// was refused: token_expired, or one of the codes of a failed verification. The body stays
// readable for the layers above.
func refusedTokenCode(resp *http.Response) string {
	body := bufferedBytes(resp)
	if body == nil {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body = readCloser{Reader: io.MultiReader(strings.NewReader(string(head)), resp.Body), Closer: resp.Body}
		body = head
	}
	var probe struct {
		Fail []FailEntry `json:"fail"`
	}
	if json.Unmarshal(body, &probe) != nil {
		return ""
	}
	refused := func(code string) bool {
		return strings.EqualFold(code, "token_expired") || transientAuthCode(code)
	}
	for _, f := range probe.Fail {
		if refused(f.Code) {
			return f.Code
		}
		for _, e := range f.Errors {
			if refused(e.Code) {
				return e.Code
			}
		}
	}
	return ""
}
