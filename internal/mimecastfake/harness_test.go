package mimecastfake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stepClock is an injectable clock that only moves when a test says so.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func newStepClock() *stepClock {
	return &stepClock{t: time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeHarness is a fake tenant on a loopback httptest server with a step clock.
type fakeHarness struct {
	t     *testing.T
	srv   *Server
	http  *httptest.Server
	clock *stepClock
	token string
}

func newFakeHarness(t *testing.T, opts Options) *fakeHarness {
	t.Helper()
	clock := newStepClock()
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	srv := New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &fakeHarness{t: t, srv: srv, http: ts, clock: clock}
}

// issueToken gets a token with the given credentials and returns status and decoded body.
func (h *fakeHarness) issueToken(id, secret string) (int, map[string]any) {
	h.t.Helper()
	form := url.Values{"client_id": {id}, "client_secret": {secret}, "grant_type": {"client_credentials"}}
	resp, err := h.http.Client().PostForm(h.http.URL+"/oauth/token", form)
	require.NoError(h.t, err)
	return decodeResponse(h.t, resp)
}

// bearer returns a valid token of the default client, fetching one the first time.
func (h *fakeHarness) bearer() string {
	h.t.Helper()
	if h.token == "" {
		status, body := h.issueToken(DefaultClientID, DefaultClientSecret)
		require.Equal(h.t, http.StatusOK, status, body)
		h.token = body["access_token"].(string)
	}
	return h.token
}

// do sends a request with the default client's token and returns the raw response.
func (h *fakeHarness) do(method, path string, body any) *http.Response {
	h.t.Helper()
	return h.doWith(h.bearer(), method, path, body)
}

func (h *fakeHarness) doWith(token, method, path string, body any) *http.Response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(h.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.http.URL+path, rd)
	require.NoError(h.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.http.Client().Do(req)
	require.NoError(h.t, err)
	return resp
}

// post calls an /api/* endpoint and decodes the JSON response.
func (h *fakeHarness) post(path string, body any) (int, map[string]any) {
	h.t.Helper()
	return decodeResponse(h.t, h.do(http.MethodPost, path, body))
}

// get calls a REST endpoint and decodes the JSON response.
func (h *fakeHarness) get(path string, q url.Values) (int, map[string]any) {
	h.t.Helper()
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return decodeResponse(h.t, h.do(http.MethodGet, path, nil))
}

func decodeResponse(t *testing.T, resp *http.Response) (int, map[string]any) {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		require.NoError(t, d.Decode(&body), string(raw))
	}
	return resp.StatusCode, body
}

// apiBody builds an /api/* request body.
func apiBody(pageSize any, token string, item map[string]any) map[string]any {
	b := map[string]any{"data": []any{}}
	if item != nil {
		b["data"] = []any{item}
	}
	pag := map[string]any{}
	if pageSize != nil {
		pag["pageSize"] = pageSize
	}
	if token != "" {
		pag["pageToken"] = token
	}
	if len(pag) > 0 {
		b["meta"] = map[string]any{"pagination": pag}
	}
	return b
}

// listEndpoint describes how to read one paged /api/* list.
type listEndpoint struct {
	path string
	item map[string]any
	// records extracts the page's records from "data".
	records func(t *testing.T, data []any) []any
}

func flatRecords(_ *testing.T, data []any) []any { return data }

func namedRecords(name string) func(*testing.T, []any) []any {
	return func(t *testing.T, data []any) []any {
		t.Helper()
		require.Len(t, data, 1, "data holds one wrapper object")
		w, ok := data[0].(map[string]any)
		require.True(t, ok)
		recs, ok := w[name].([]any)
		require.True(t, ok, "data[0].%s is a list", name)
		return recs
	}
}

// crawl follows next tokens to the end and returns every record and the totalCount reported.
func (h *fakeHarness) crawl(ep listEndpoint, pageSize int) ([]any, int) {
	h.t.Helper()
	var all []any
	token, total := "", -1
	for pages := 0; ; pages++ {
		require.Less(h.t, pages, 10000, "crawl does not end")
		status, body := h.post(ep.path, apiBody(pageSize, token, ep.item))
		require.Equal(h.t, http.StatusOK, status)
		require.Empty(h.t, body["fail"], "fail on page %d", pages)
		recs := ep.records(h.t, body["data"].([]any))
		all = append(all, recs...)
		pag := body["meta"].(map[string]any)["pagination"].(map[string]any)
		tc := asInt(h.t, pag["totalCount"])
		if total >= 0 {
			require.Equal(h.t, total, tc, "totalCount is stable across pages")
		}
		total = tc
		next, _ := pag["next"].(string)
		if next == "" {
			return all, total
		}
		require.NotEmpty(h.t, recs, "a page with a next token is not empty")
		token = next
	}
}

func asInt(t *testing.T, v any) int {
	t.Helper()
	n, ok := v.(json.Number)
	require.True(t, ok, "%v (%T) is a number", v, v)
	i, err := n.Int64()
	require.NoError(t, err)
	return int(i)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
