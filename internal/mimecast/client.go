package mimecast

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client talks to one Mimecast API 2.0 application. It is safe for concurrent use; all callers
// share one token and one quota. Close it when done.
//
// Clients made with With share the token, the quota, the cap on calls in flight and the
// connections of the client they were made from, and have their own settings for everything
// else (retries, timeouts, page size, tracing, logger, metrics): one per component of one
// application.
type Client struct {
	cfg    Config
	apiURL *url.URL

	// The three paths a call can take (see New for their layers).
	api    http.RoundTripper // JSON answers, read whole inside the attempt
	stream http.RoundTripper // /api/* answers that are files
	files  *http.Client      // pre-signed URLs: no token, redirects allowed

	tokens *tokenSource
	quota  *quota
	counts *counters
	redact *redactor

	// Shared with the clients made by With; owner is the client New made, which closes them.
	transports []*http.Transport
	owner      bool
	plainOnce  sync.Once          // the warning about a pre-signed URL over plain http
	stop       context.CancelFunc // the token source (owner) and the stats line
	statsDone  chan struct{}
	closeOnce  sync.Once
}

// downloadEndpoint names pre-signed downloads in metrics and errors: their URLs are per file
// and carry a signature, so they make neither a good label nor a safe one.
const downloadEndpoint = "siem_batch_file"

// New checks cfg, fills its defaults and builds the client. It makes no network call: the first
// token is fetched by the first API call.
func New(cfg Config) (*Client, error) {
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	apiURL, _ := url.Parse(cfg.APIURL) // validated above
	proxy := http.ProxyFromEnvironment
	if cfg.ProxyURL != "" {
		u, _ := url.Parse(cfg.ProxyURL) // validated above
		proxy = http.ProxyURL(u)
	}
	life, stop := context.WithCancel(context.Background())
	c := &Client{
		cfg:    cfg,
		apiURL: apiURL,
		quota:  newQuota(cfg.Now, cfg.MaxRetryWait, cfg.MaxInFlight),
		counts: &counters{},
		redact: newRedactor(cfg.ClientSecret),
		owner:  true,
		stop:   stop,
	}
	apiBase, filesBase := newBaseTransport(&cfg, proxy), newBaseTransport(&cfg, proxy)
	c.transports = []*http.Transport{apiBase, filesBase}

	// Token requests: counted and traced, never paced (the token endpoint is not part of the
	// API quota) and never retried here (the API call that needs the token retries).
	tokenHTTP := &http.Client{
		Transport:     layers(apiBase, captureLayer, c.statsLayer, c.traceLayer(false), bufferLayer(tokenBodyLimit), c.timeoutLayer(false)),
		CheckRedirect: refuseRedirect,
	}
	c.tokens = newTokenSource(life, &cfg, tokenHTTP, c.redact, func() { c.counts.tokenFetches.Add(1) })
	c.build(life)
	return c, nil
}

// With returns a client for another component of the same application: it shares c's token,
// quota, cap on calls in flight and connections, and takes every other setting from cfg. The
// settings that make the shared part (api_url, auth_url, client_id, client_secret, tls,
// proxy_url, max_in_flight, token_expiry_offset) must be c's; the caller checks that with the
// names of its fields. Close the new client when done; closing it leaves c working.
func (c *Client) With(cfg Config) (*Client, error) {
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.APIURL != c.cfg.APIURL || cfg.AuthURL != c.cfg.AuthURL || cfg.ClientID != c.cfg.ClientID || cfg.ClientSecret != c.cfg.ClientSecret {
		return nil, errors.New("a client shares a token only with clients of the same application: api_url, auth_url, client_id and client_secret must match")
	}
	life, stop := context.WithCancel(context.Background())
	v := &Client{
		cfg:        cfg,
		apiURL:     c.apiURL,
		tokens:     c.tokens,
		quota:      c.quota,
		counts:     &counters{},
		redact:     c.redact,
		transports: c.transports,
		stop:       stop,
	}
	v.build(life)
	return v, nil
}

// build stacks the client's layers on the shared connections and starts its stats line.
func (c *Client) build(life context.Context) {
	apiBase, filesBase := c.transports[0], c.transports[1]
	// An API call goes down these layers in this order; see each transport_*.go.
	c.api = layers(apiBase, c.retryLayer, c.authLayer, c.rateLimitLayer, c.paceLayer, c.statsLayer,
		c.traceLayer(false), bufferLayer(c.cfg.MaxBodyBytes), c.timeoutLayer(false))
	c.stream = layers(apiBase, c.retryLayer, c.authLayer, c.rateLimitLayer, c.paceLayer, c.statsLayer,
		c.traceLayer(false), c.timeoutLayer(true))
	// Pre-signed URLs are not on the API host and not under its quota: no auth, no pacing.
	c.files = &http.Client{
		Transport:     layers(filesBase, c.retryLayer, c.rateLimitLayer, c.statsLayer, c.traceLayer(true), c.timeoutLayer(true)),
		CheckRedirect: downloadRedirect,
	}
	if c.cfg.StatsInterval > 0 {
		c.statsDone = make(chan struct{})
		go func() {
			defer close(c.statsDone)
			logStats(life, c.cfg.StatsInterval, c.counts, c.cfg.Logger)
		}()
	}
}

// Close stops the stats log line; the client New made also stops any token request under way
// and closes idle connections, so close it after the clients made from it by With. Do not use
// the client after Close. Safe to call more than once.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		c.stop()
		if c.statsDone != nil {
			<-c.statsDone
		}
		if !c.owner {
			return
		}
		for _, t := range c.transports {
			t.CloseIdleConnections()
		}
	})
}

// PageSize is the configured number of records per page (page_size).
func (c *Client) PageSize() int { return c.cfg.PageSize }

// Stats returns the client's totals since New.
func (c *Client) Stats() Stats { return c.counts.snapshot() }

// layer wraps a RoundTripper in one concern, like oauth2.Transport wraps one in auth.
type layer func(next http.RoundTripper) http.RoundTripper

// layers stacks ls on base; the first layer is the outermost, the one a request meets first.
func layers(base http.RoundTripper, ls ...layer) http.RoundTripper {
	rt := base
	for i := len(ls) - 1; i >= 0; i-- {
		rt = ls[i](rt)
	}
	return rt
}

func (c *Client) retryLayer(next http.RoundTripper) http.RoundTripper {
	return &retryTransport{
		next:       next,
		maxRetries: c.cfg.retries(),
		maxWait:    c.cfg.MaxRetryWait,
		multiplier: c.cfg.RetryAfterMultiplier,
		now:        c.cfg.Now,
		sleep:      c.cfg.Sleep,
		onRetry: func(endpoint, reason string) {
			c.counts.retries.Add(1)
			c.cfg.Metrics.Retry(endpoint, reason)
		},
		onRecovered: c.logRecovered,
		onLongWait: func(endpoint, reason string, d time.Duration) {
			c.cfg.Logger.Infof("mimecast %s: waiting %v before retrying (%s)", endpoint, d.Round(time.Second), reason)
		},
	}
}

// logRecovered says once per call what the retries absorbed. Waiting out a 429 is how the
// quota works, so it is information; anything else was a fault of the service or the network.
func (c *Client) logRecovered(endpoint string, reasons, requestIDs []string) {
	counts := map[string]int{}
	var order []string
	for _, r := range reasons {
		if counts[r] == 0 {
			order = append(order, r)
		}
		counts[r]++
	}
	parts := make([]string, len(order))
	for i, r := range order {
		parts[i] = fmt.Sprintf("%s x%d", r, counts[r])
	}
	word := "retries"
	if len(reasons) == 1 {
		word = "retry"
	}
	msg, args := "mimecast %s: answered after %d %s (%s)", []any{endpoint, len(reasons), word, strings.Join(parts, ", ")}
	if n := len(requestIDs); n > 0 {
		// What Mimecast support asks for; the last few are enough.
		msg += "; x-request-id of the failed answers: %s"
		args = append(args, strings.Join(requestIDs[max(0, n-3):], ", "))
	}
	if len(order) == 1 && order[0] == retryReasonRateLimited {
		c.cfg.Logger.Infof(msg, args...)
		return
	}
	c.cfg.Logger.Warnf(msg, args...)
}

func (c *Client) authLayer(next http.RoundTripper) http.RoundTripper {
	return &authTransport{next: next, tokens: c.tokens, api: c.apiURL, onRefresh: func(endpoint, why, requestID string) {
		msg := fmt.Sprintf("mimecast %s: the access token was refused (%s) before its expiry; repeated the call with a new token", endpoint, why)
		if requestID != "" {
			msg += "; x-request-id of the refused answer: " + requestID
		}
		c.cfg.Logger.Infof("%s", msg)
	}}
}

func (c *Client) rateLimitLayer(next http.RoundTripper) http.RoundTripper {
	if c.cfg.RateLimit == nil {
		return next
	}
	return &rateLimitTransport{next: next, wait: c.cfg.RateLimit}
}

func (c *Client) paceLayer(next http.RoundTripper) http.RoundTripper {
	return &paceTransport{next: next, quota: c.quota, sleep: c.cfg.Sleep}
}

func (c *Client) statsLayer(next http.RoundTripper) http.RoundTripper {
	return &statsTransport{next: next, counts: c.counts, metrics: c.cfg.Metrics}
}

func (c *Client) traceLayer(hideQuery bool) layer {
	return func(next http.RoundTripper) http.RoundTripper {
		if c.cfg.TraceLevel == TraceNone {
			return next
		}
		return &traceTransport{next: next, all: c.cfg.TraceLevel == TraceAll, log: c.cfg.Logger, redact: c.redact, hideQuery: hideQuery}
	}
}

func bufferLayer(maxBody int64) layer {
	return func(next http.RoundTripper) http.RoundTripper {
		return &bufferTransport{next: next, maxBody: maxBody}
	}
}

// tokenBodyLimit bounds a token response, as the oauth2 package does; max_body_bytes is about
// API data and may be set below what a token response needs.
const tokenBodyLimit = 1 << 20

func (c *Client) timeoutLayer(stream bool) layer {
	return func(next http.RoundTripper) http.RoundTripper {
		return &timeoutTransport{next: next, timeout: c.cfg.Timeout, stream: stream}
	}
}

func captureLayer(next http.RoundTripper) http.RoundTripper { return captureTransport{next: next} }

func newBaseTransport(cfg *Config, proxy func(*http.Request) (*url.URL, error)) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = proxy
	if cfg.TLSConfig != nil {
		t.TLSClientConfig = cfg.TLSConfig.Clone()
	}
	// Inputs and the enrich processor share one client; keep enough warm connections for them.
	t.MaxIdleConnsPerHost = 16
	return t
}

// refuseRedirect: the token endpoint answers directly; a redirect means a wrong auth_url, and
// following it would post the client secret elsewhere.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// downloadRedirect follows a few redirects of a pre-signed URL (storage services use them).
// There is no Authorization header on this path; deleting it anyway keeps that true if a
// layer ever adds one.
func downloadRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing a redirect to a %s URL", req.URL.Scheme)
	}
	req.Header.Del("Authorization")
	return nil
}

type endpointKey struct{}

// withEndpoint names the call for metrics, traces and errors.
func withEndpoint(ctx context.Context, endpoint string) context.Context {
	return context.WithValue(ctx, endpointKey{}, endpoint)
}

func endpointOf(req *http.Request) string {
	if e, ok := req.Context().Value(endpointKey{}).(string); ok {
		return e
	}
	return req.URL.Path
}

// send builds a request for an API path and sends it down rt. API calls never follow a redirect:
// the usual one is http:// to https://, which would turn a POST into a GET, and a redirect to
// another host must not see the token. The 3xx becomes an error that says what to fix.
func (c *Client) send(ctx context.Context, rt http.RoundTripper, method, path string, query url.Values, body []byte) (*http.Response, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("calling mimecast %q: path must start with /", path)
	}
	target := c.cfg.APIURL + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(withEndpoint(ctx, path), method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("building request for %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, c.callError(path, err)
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		discard(resp)
		return nil, &APIError{
			Endpoint:   path,
			StatusCode: resp.StatusCode,
			Err:        fmt.Errorf("redirected to %s: set api_url to the address that answers", redactURL(resp.Header.Get("Location"))),
		}
	}
	return resp, nil
}

const userAgent = "mimecast-connect"

// callError is the error of a call that got no usable answer: already an *APIError (scrubbed), the
// caller's cancellation as is, otherwise a transport failure as an *APIError.
func (c *Client) callError(endpoint string, err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		// http.Client wraps errors with the URL, which for a download holds its signature.
		err = urlErr.Err
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		// A token error was scrubbed when the fetch made it, and is shared by every call that
		// waited for that fetch: scrubbing it again here would write it from several goroutines.
		var tokErr *tokenError
		if !errors.As(err, &tokErr) {
			c.redact.apiError(apiErr)
		}
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errClientClosed) {
		return err
	}
	var hookErr *rateLimitError
	if errors.As(err, &hookErr) {
		return err
	}
	return &APIError{Endpoint: endpoint, Retryable: retryableError(err), Err: errors.New(c.redact.String(err.Error()))}
}

// getJSON: a GET through the API stack, error shapes checked before out is filled.
func (c *Client) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	resp, err := c.send(ctx, c.api, http.MethodGet, path, query, nil)
	if err != nil {
		return err
	}
	return withRequestID(c.decodeJSON(path, resp, out), resp.Header)
}

// decodeJSON reads the answer of a GET into out.
func (c *Client) decodeJSON(path string, resp *http.Response, out any) error {
	body, valid := bufferedJSON(resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorFromBody(c.redact, path, resp.StatusCode, body)
	}
	bad := func(err error) error {
		return c.redact.apiError(&APIError{Endpoint: path, StatusCode: resp.StatusCode, Body: c.redact.snippet(body, snippetLen), Err: err})
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return bad(errors.New("empty response body"))
	}
	if !valid {
		return bad(describeJSONError(body, nil))
	}
	if isErrorShape(body) {
		return errorFromBody(c.redact, path, resp.StatusCode, body)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		// The body is valid and nothing else holds it: no copy, no second validation.
		*raw = bytes.TrimSpace(body)
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return bad(fmt.Errorf("decoding response: %w", err))
	}
	return nil
}

// isErrorShape reports an error sent with a 2xx status: a non-empty fail[] or a SIEM error
// object. body is valid JSON (getJSON checked); its members are found by scanning, as decoding
// into struct{Fail []json.RawMessage; Error json.RawMessage} would (names folded, the last one
// counts, and a fail that is neither a list nor null makes it no error shape).
func isErrorShape(body []byte) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return false
	}
	var fail, errObj []byte
	badFail := false
	objectMembers(body, func(name, value []byte) {
		switch {
		case bytes.EqualFold(name, []byte("fail")):
			if k := jsonKind(value); k != '[' && k != 'n' {
				badFail = true
			}
			fail = value
		case bytes.EqualFold(name, []byte("error")):
			errObj = value
		}
	})
	if badFail {
		return false
	}
	hasFail := jsonKind(fail) == '[' && len(arrayElements(bytes.TrimSpace(fail))) > 0
	return hasFail || jsonKind(errObj) == '{'
}

// ErrPlainDownload is the error of a plain http pre-signed URL refused under
// Config.RefusePlainDownloads.
var ErrPlainDownload = errors.New("plain http download refused")

// download GETs a pre-signed URL on the files path.
func (c *Client) download(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	if err := checkHTTPURL(rawURL); err != nil {
		return nil, fmt.Errorf("downloading %s: %w", downloadEndpoint, errors.New("URL is not an absolute http(s) URL"))
	}
	req, err := http.NewRequestWithContext(withEndpoint(ctx, downloadEndpoint), http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", downloadEndpoint, errors.New("URL is not valid"))
	}
	req.Header.Set("User-Agent", userAgent)
	if req.URL.Scheme == "http" && c.cfg.RefusePlainDownloads {
		return nil, fmt.Errorf("downloading %s: %w", downloadEndpoint, fmt.Errorf("%w: the pre-signed URL on %s is plain http while tls is enabled; set allow_plain_http_downloads: true to download such files unencrypted", ErrPlainDownload, req.URL.Host))
	}
	if req.URL.Scheme == "http" && c.apiURL.Scheme == "https" {
		c.plainOnce.Do(func() {
			c.cfg.Logger.Warnf("mimecast %s: a pre-signed URL on %s is plain http while the API is https: the file is downloaded unencrypted", downloadEndpoint, req.URL.Host)
		})
	}
	resp, err := c.files.Do(req)
	if err != nil {
		return nil, c.callError(downloadEndpoint, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
	e := errorFromBody(c.redact, downloadEndpoint, resp.StatusCode, b)
	e.download = true
	e.RequestID = requestID(resp.Header)
	if e.Expired() {
		e.Err = errors.New("the pre-signed URL has expired or the file is gone")
	}
	return nil, e
}

// QuotaRate is the calls per second the application's quota allows, as its X-RateLimit-*
// headers told so far; false while they told no limit or no window. Callers size how much they
// do at once by it: a quota slower than one call at a time needs no parallel calls.
func (c *Client) QuotaRate() (float64, bool) { return c.quota.rate() }
