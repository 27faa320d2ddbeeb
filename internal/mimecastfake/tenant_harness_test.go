package mimecastfake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// harnessAnchor is the tenant "now" of the harness: backlog before it, live records after.
var harnessAnchor = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// tenantHarness serves a fake tenant on loopback with a step clock (see harness_test.go) at
// harnessAnchor, and a bearer token fetched up front.
type tenantHarness struct {
	t     *testing.T
	srv   *Server
	hs    *httptest.Server
	clock *stepClock
	token string
}

func newTenantHarness(t *testing.T, opts Options) *tenantHarness {
	t.Helper()
	clock := &stepClock{t: harnessAnchor}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	if opts.Anchor.IsZero() {
		opts.Anchor = harnessAnchor
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = 30 * 24 * time.Hour // tests move the clock by days without re-authenticating
	}
	h := &tenantHarness{t: t, srv: New(opts), clock: clock}
	h.hs = httptest.NewServer(h.srv)
	t.Cleanup(h.hs.Close)

	form := url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "grant_type": {"client_credentials"}}
	resp, err := h.hs.Client().PostForm(h.hs.URL+"/oauth/token", form)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	h.token = tok.AccessToken
	return h
}

// post sends an /api/* request and returns the response with its body read.
func (h *tenantHarness) post(path string, body any) (*http.Response, []byte) {
	h.t.Helper()
	b, err := json.Marshal(body)
	require.NoError(h.t, err)
	req, err := http.NewRequestWithContext(h.t.Context(), http.MethodPost, h.hs.URL+path, bytes.NewReader(b))
	require.NoError(h.t, err)
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", "application/json")
	return h.do(req)
}

// api posts and decodes a 200 JSON envelope.
func (h *tenantHarness) api(path string, body any) map[string]any {
	h.t.Helper()
	resp, raw := h.post(path, body)
	require.Equal(h.t, http.StatusOK, resp.StatusCode, string(raw))
	require.True(h.t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"))
	var out map[string]any
	require.NoError(h.t, json.Unmarshal(raw, &out), string(raw))
	return out
}

// get sends a GET to path (relative to the server, or an absolute URL) with optional headers.
func (h *tenantHarness) get(target string, q url.Values, bearer bool) (*http.Response, []byte) {
	h.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = h.hs.URL + target
	}
	if q != nil {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(h.t.Context(), http.MethodGet, target, nil)
	require.NoError(h.t, err)
	if bearer {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	return h.do(req)
}

func (h *tenantHarness) do(req *http.Request) (*http.Response, []byte) {
	h.t.Helper()
	resp, err := h.hs.Client().Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return resp, raw
}

// failCode returns fail[0].errors[0].code of an envelope ("" when fail is empty).
func failCode(t *testing.T, env map[string]any) string {
	t.Helper()
	fails, _ := env["fail"].([]any)
	if len(fails) == 0 {
		return ""
	}
	errs := fails[0].(map[string]any)["errors"].([]any)
	return errs[0].(map[string]any)["code"].(string)
}

// pageReq builds an /api/* request body with one data item and optional pagination.
func pageReq(item any, size int, token string) map[string]any {
	pag := map[string]any{}
	if size > 0 {
		pag["pageSize"] = size
	}
	if token != "" {
		pag["pageToken"] = token
	}
	body := map[string]any{"meta": map[string]any{"pagination": pag}, "data": []any{}}
	if item != nil {
		body["data"] = []any{item}
	}
	return body
}

// nextToken returns meta.pagination.next ("" when absent).
func nextToken(env map[string]any) string {
	meta, _ := env["meta"].(map[string]any)
	pag, _ := meta["pagination"].(map[string]any)
	next, _ := pag["next"].(string)
	return next
}
