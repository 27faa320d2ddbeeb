package mimecast

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// traceBodyLen is how much of a body the "all" trace level shows.
const traceBodyLen = 2048

// traceTransport writes one line per attempt at trace level "calls" (method, path, status,
// duration) and adds headers and bodies at "all". Lines go to Infof: a user who sets a trace
// level wants to see them without also turning on debug logging for all of Benthos. Everything
// passes through the redactor: the secret, tokens and pre-signed URL signatures never reach a log.
type traceTransport struct {
	next      http.RoundTripper
	all       bool
	log       Logger
	redact    *redactor
	hideQuery bool // pre-signed URLs carry their signature in the query
}

func (t *traceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	target := t.target(req)
	if t.all {
		t.log.Infof("mimecast %s %s request: headers %s body %s", req.Method, target, t.headers(req.Header), t.requestBody(req))
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	d := time.Since(start).Round(time.Millisecond)
	if err != nil {
		t.log.Infof("mimecast %s %s: failed after %s: %s", req.Method, target, d, t.redact.String(err.Error()))
		return nil, err
	}
	if !t.all {
		t.log.Infof("mimecast %s %s: %d in %s", req.Method, target, resp.StatusCode, d)
		return resp, nil
	}
	t.log.Infof("mimecast %s %s: %d in %s: headers %s body %s", req.Method, target, resp.StatusCode, d,
		t.headers(resp.Header), t.responseBody(resp))
	return resp, nil
}

func (t *traceTransport) target(req *http.Request) string {
	u := *req.URL
	if t.hideQuery {
		return redactURL(u.String())
	}
	return t.redact.String(u.RequestURI())
}

// headers formats h on one line, credentials replaced.
func (t *traceTransport) headers(h http.Header) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := strings.Join(h[k], ", ")
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie":
			v = redacted
		}
		parts = append(parts, k+": "+t.redact.String(v))
	}
	return "{" + strings.Join(parts, "; ") + "}"
}

func (t *traceTransport) requestBody(req *http.Request) string {
	if req.GetBody == nil {
		return "(none)"
	}
	body, err := req.GetBody()
	if err != nil {
		return "(unavailable)"
	}
	defer body.Close()
	b, _ := io.ReadAll(io.LimitReader(body, 4*traceBodyLen))
	if len(b) == 0 {
		return "(none)"
	}
	return t.redact.snippet(b, traceBodyLen)
}

func (t *traceTransport) responseBody(resp *http.Response) string {
	if b := bufferedBytes(resp); b != nil {
		return t.redact.snippet(b, traceBodyLen)
	}
	return fmt.Sprintf("(streamed to the caller, %s)", resp.Header.Get("Content-Type"))
}
