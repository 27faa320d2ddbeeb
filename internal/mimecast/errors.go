package mimecast

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// APIError is every error the client returns for an HTTP exchange that did not succeed: a
// non-2xx status, a fail[] in an HTTP 200 envelope, a SIEM {"error":{...}} body, or a body that
// could not be decoded. Callers branch on its fields rather than on error strings.
type APIError struct {
	Endpoint   string   // request path, e.g. /api/ttp/url/get-logs; "siem_batch_file" for downloads
	StatusCode int      // HTTP status (200 for an envelope fail[]); 0 when no response arrived
	Codes      []string // fail codes, e.g. token_expired, app_forbidden, err_xdk_invalid_signature
	Messages   []string // fail messages, same order as Codes
	// Body is what was received, truncated to a few hundred bytes, for errors that could not be
	// decoded (an HTML error page from a proxy, an empty body). Never holds a token.
	Body      string
	Retryable bool // whether repeating the same call can help (429, 5xx, retryable fail)
	// RequestID is the x-request-id header of the answer, when it had one: what Mimecast
	// support asks for about a failed call.
	RequestID string
	Err       error

	// download marks an error from Download, where 403/404 mean an expired pre-signed URL rather
	// than a missing permission or path.
	download bool
}

// Error reads like "mimecast /api/x: HTTP 403 app_forbidden: Forbidden to perform the requested
// operation".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("mimecast ")
	b.WriteString(e.Endpoint)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	}
	if fails := e.failText(); fails != "" {
		if e.StatusCode != 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(": ")
		}
		b.WriteString(fails)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Body != "" {
		fmt.Fprintf(&b, "; received %q", e.Body)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (x-request-id %s)", e.RequestID)
	}
	return b.String()
}

// failText joins codes and messages pairwise: "code: message; code2: message2".
func (e *APIError) failText() string {
	var parts []string
	for i := range max(len(e.Codes), len(e.Messages)) {
		var code, msg string
		if i < len(e.Codes) {
			code = e.Codes[i]
		}
		if i < len(e.Messages) {
			msg = e.Messages[i]
		}
		switch {
		case code != "" && msg != "":
			parts = append(parts, code+": "+msg)
		case code != "":
			parts = append(parts, code)
		case msg != "":
			parts = append(parts, msg)
		}
	}
	return strings.Join(parts, "; ")
}

func (e *APIError) Unwrap() error { return e.Err }

// HasCode reports whether one of the fail codes equals code (case-insensitively: the gateway and
// the functions do not agree on case).
func (e *APIError) HasCode(code string) bool {
	for _, c := range e.Codes {
		if strings.EqualFold(c, code) {
			return true
		}
	}
	return false
}

// Forbidden: the application lacks the product or role for this endpoint. Retrying cannot help;
// callers disable the feature and tell the user which permission is missing.
func (e *APIError) Forbidden() bool {
	return !e.download && (e.StatusCode == http.StatusForbidden || e.HasCode("app_forbidden"))
}

// Unauthorized: the credentials or the token were refused (after the client's one refresh).
// A 401 the gateway gives now and then to a valid token (TransientAuth) is not.
func (e *APIError) Unauthorized() bool {
	if e.TransientAuth() {
		return false
	}
	return e.StatusCode == http.StatusUnauthorized || e.HasCode("token_expired") ||
		e.HasCode("unauthorized") || e.HasCode("InvalidClientIdentifier")
}

// TransientAuth: a 401 whose code says the gateway failed to verify a valid token
// (token_verification_failed, "Unauthorized Request"). It heals: the client refreshes the
// token and retries it like a 5xx; it never means the credentials are wrong.
func (e *APIError) TransientAuth() bool {
	if e.StatusCode != http.StatusUnauthorized {
		return false
	}
	for _, c := range e.Codes {
		if transientAuthCode(c) {
			return true
		}
	}
	return false
}

// transientAuthCodes are the 401 codes the gateway gives intermittently to tokens that are valid.
var transientAuthCodes = []string{"token_verification_failed", "Unauthorized Request"}

func transientAuthCode(code string) bool {
	for _, c := range transientAuthCodes {
		if strings.EqualFold(strings.TrimSpace(code), c) {
			return true
		}
	}
	return false
}

// withRequestID records the x-request-id of the answer in err, when err is an *APIError.
func withRequestID(err error, h http.Header) error {
	var apiErr *APIError
	if id := requestID(h); id != "" && errors.As(err, &apiErr) && apiErr.RequestID == "" {
		apiErr.RequestID = id
	}
	return err
}

// requestID is the x-request-id header, cut to a sane length and to printable characters: it is
// written into logs.
func requestID(h http.Header) string {
	id := strings.TrimSpace(h.Get("X-Request-Id"))
	if len(id) > 64 {
		id = id[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return -1
		}
		return r
	}, id)
}

// RateLimited: the quota was exceeded and the client's retries did not get through.
func (e *APIError) RateLimited() bool { return e.StatusCode == http.StatusTooManyRequests }

// Expired: a pre-signed download URL answered 403 or 404, which is how an expired or already
// purged SIEM batch file looks. Skip the file; asking again for the batch list gives fresh URLs.
func (e *APIError) Expired() bool {
	return e.download && (e.StatusCode == http.StatusForbidden || e.StatusCode == http.StatusNotFound)
}

// NotFound: the API path does not exist on this host (wrong api_url or an endpoint the region
// does not serve).
func (e *APIError) NotFound() bool { return !e.download && e.StatusCode == http.StatusNotFound }

// IsRetryable reports whether repeating the call that returned err can succeed later. The client
// has already retried such errors up to max_retries; a caller (an input) uses this to decide
// between backing off and failing for good. Context cancellation is not retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Retryable
}

// retryableStatus is the status part of the retry policy: rate limiting, timeouts and server
// errors are worth repeating; 501 (the method will never exist) and every other 4xx are not.
func retryableStatus(status int) bool {
	switch {
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		return true
	case status == http.StatusNotImplemented:
		return false
	default:
		return status >= 500
	}
}
