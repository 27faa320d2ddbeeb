package mimecast

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryTransport repeats an attempt that failed in a way that can heal: a 429, a 5xx, a network
// error or timeout, or an HTTP 200 envelope whose fail[] says retryable. It is the outermost
// layer, so every repeat passes again through auth, the rate_limit hook and quota pacing.
type retryTransport struct {
	next       http.RoundTripper
	maxRetries int
	maxWait    time.Duration
	multiplier float64 // applied to the waits the server asks for on a 429
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
	onRetry    func(endpoint, reason string)
	// onLongWait, when set, hears of a wait before a retry of at least longWait, when it starts:
	// a wait of minutes must not look like a hang.
	onLongWait func(endpoint, reason string, d time.Duration)
	// onRecovered, when set, hears of a call that succeeded after retries, with the reason of
	// each retry and the x-request-id of the failed answers that had one: a fault the retries
	// absorbed is otherwise only visible in metrics.
	onRecovered func(endpoint string, reasons, requestIDs []string)
}

const (
	// backoffBase is the first backoff step: retries after 5xx and network errors wait a random
	// time up to base*2^attempt (full jitter), capped at maxWait.
	backoffBase = time.Second
	// rateLimitDefault is the first wait after a 429 that says nothing about when to come back;
	// it doubles on each further 429.
	rateLimitDefault = time.Second
)

// longWait is the shortest wait before a retry that is logged when it starts.
const longWait = 10 * time.Second

// retryReasonRateLimited is the retry reason (metrics label) of a 429.
const retryReasonRateLimited = "rate_limited"

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var reasons, ids []string
	for attempt := 0; ; attempt++ {
		try := req
		if attempt > 0 {
			var err error
			if try, err = replay(req); err != nil {
				return nil, err
			}
		}
		resp, err := t.next.RoundTrip(try)
		if ctxErr := ctx.Err(); ctxErr != nil {
			// The caller gave up while this attempt was answered: report that, not the answer.
			if resp != nil {
				discard(resp)
			}
			return nil, ctxErr
		}
		wait, reason, retry := t.decide(ctx, attempt, resp, err)
		if !retry || attempt >= t.maxRetries || !replayable(req) {
			if !retry && len(reasons) > 0 && err == nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 && t.onRecovered != nil {
				t.onRecovered(endpointOf(req), reasons, ids)
			}
			return resp, err
		}
		if resp != nil {
			if id := requestID(resp.Header); id != "" {
				ids = append(ids, id)
			}
		}
		discard(resp)
		reasons = append(reasons, reason)
		t.onRetry(endpointOf(req), reason)
		if wait >= longWait && t.onLongWait != nil {
			t.onLongWait(endpointOf(req), reason, wait)
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("waiting to retry %s: %w", endpointOf(req), err)
		}
	}
}

// decide is the retry policy: whether the outcome of attempt is worth repeating, after how long,
// and the reason reported to metrics.
func (t *retryTransport) decide(ctx context.Context, attempt int, resp *http.Response, err error) (time.Duration, string, bool) {
	if ctx.Err() != nil {
		return 0, "", false
	}
	if err != nil {
		if !retryableError(err) {
			return 0, "", false
		}
		return t.backoff(attempt), errorReason(err), true
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if d, ok := serverWait(resp.Header, t.now()); ok {
			return t.cap(time.Duration(float64(d) * t.multiplier)), retryReasonRateLimited, true
		}
		return t.cap(rateLimitDefault << min(attempt, 20)), retryReasonRateLimited, true
	case retryableStatus(resp.StatusCode):
		// A 503 that says how long to wait gets the same headroom as a 429.
		if d, ok := serverWait(resp.Header, t.now()); ok {
			return t.cap(time.Duration(float64(d) * t.multiplier)), "http_" + strconv.Itoa(resp.StatusCode), true
		}
		return t.backoff(attempt), "http_" + strconv.Itoa(resp.StatusCode), true
	case resp.StatusCode >= 200 && resp.StatusCode <= 299 && retryableFailIn(bufferedJSON(resp)):
		return t.backoff(attempt), "retryable_fail", true
	case resp.StatusCode == http.StatusUnauthorized && transientAuthCode(refusedTokenCode(resp)):
		// The gateway could not verify a valid token: it heals like a 5xx (the auth layer
		// below already tried a fresh token once).
		return t.backoff(attempt), "http_401_transient", true
	}
	return 0, "", false
}

// errorReason names a retryable failure that got no HTTP answer from the endpoint, for metrics
// and the recovery log: the attempt ran out of time, the token endpoint failed (with its status),
// or the network did.
func errorReason(err error) string {
	var tokErr *tokenError
	if errors.As(err, &tokErr) {
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode != 0 {
			return "token_http_" + strconv.Itoa(apiErr.StatusCode)
		}
		return "token_network"
	}
	if errors.Is(err, errAttemptTimeout) {
		return "timeout"
	}
	return "network"
}

// backoff is exponential backoff with full jitter: uniform in [0, min(maxWait, base*2^attempt)].
func (t *retryTransport) backoff(attempt int) time.Duration {
	ceiling := t.cap(backoffBase << min(attempt, 20))
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1)
}

func (t *retryTransport) cap(d time.Duration) time.Duration {
	return max(0, min(d, t.maxWait))
}

// serverWait reads how long the server asked to wait: X-RateLimit-Reset in milliseconds
// (Mimecast), else Retry-After in seconds or as an HTTP date. Values may come as "4500" or
// "4500.0".
func serverWait(h http.Header, now time.Time) (time.Duration, bool) {
	if ms, ok := headerNumber(h, "X-RateLimit-Reset"); ok {
		return time.Duration(max(ms, 0) * float64(time.Millisecond)), true
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(max(secs, 0) * float64(time.Second)), true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// headerNumber parses a numeric header leniently; absurd values are clamped to a day so that a
// broken header cannot overflow a Duration.
func headerNumber(h http.Header, name string) (float64, bool) {
	v := strings.Trim(strings.TrimSpace(h.Get(name)), `"`)
	if v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != f {
		return 0, false
	}
	const day = float64(24 * time.Hour / time.Millisecond)
	return min(f, day), true
}

// retryableError: network failures and attempt timeouts heal; certificate problems, the caller's
// cancellation and errors the layers below marked permanent do not.
func retryableError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Retryable
	}
	var hookErr *rateLimitError
	if errors.As(err, &hookErr) {
		return false
	}
	var (
		certErr     *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
	)
	return !errors.As(err, &certErr) && !errors.As(err, &unknownAuth) && !errors.As(err, &hostErr) &&
		!errors.As(err, &invalidErr) && !errors.As(err, &recordErr)
}

// retryableFail reports whether a buffered 2xx envelope carries a fail[] whose errors all say
// retryable. Gateway-level entries (no errors[]) carry no such flag and are not retried.
//
// Every 2xx page passes here, so the fail member is found by scanning rather than by decoding
// the page: like decoding into a struct, the last member named fail in any case counts, and a
// body that is not one valid JSON object has none.
func retryableFail(body []byte) bool { return retryableFailIn(body, json.Valid(body)) }

// retryableFailIn is retryableFail for a body whose validity is known (see bufferedJSON).
func retryableFailIn(body []byte, valid bool) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || !valid {
		return false
	}
	var failRaw []byte
	objectMembers(body, func(name, value []byte) {
		if strings.EqualFold(string(name), "fail") {
			failRaw = value
		}
	})
	var fails []FailEntry
	if failRaw == nil || json.Unmarshal(failRaw, &fails) != nil || len(fails) == 0 {
		return false
	}
	for _, f := range fails {
		if len(f.Errors) == 0 {
			return false
		}
		for _, e := range f.Errors {
			if !e.Retryable {
				return false
			}
		}
	}
	return true
}

// replayable: a request can be sent again if it has no body or can rebuild it.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// replay returns a copy of req with a fresh body, for a second attempt.
func replay(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("rebuilding the body of %s: %w", endpointOf(req), err)
		}
		r.Body = body
	}
	return r, nil
}

// discard closes an answer that will not be used, draining a little so that the connection can
// be reused.
func discard(resp *http.Response) {
	if resp == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
