package mimecastfake

import (
	"bytes"
	"compress/gzip"
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

// feedPagesAnchor is the fixed "now" of the tenants whose served bytes are pinned and measured.
var feedPagesAnchor = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// feedPagesOptions is a tenant large enough for full pages of every feed: events spread over
// 72 hours, a fixed clock so page tokens and URLs do not depend on when the test runs.
func feedPagesOptions(events int) Options {
	return Options{
		Seed:   7,
		Anchor: feedPagesAnchor,
		Now:    func() time.Time { return feedPagesAnchor },
		Sizes:  Sizes{EventsPerFeed: events, Span: 72 * time.Hour, SIEMEventsPerFile: 500},
	}
}

// directClient calls a Server's handler in-process, without a network, so benchmarks and the
// pinned-bytes test measure the fake alone.
type directClient struct {
	tb    testing.TB
	srv   *Server
	token string
}

func newDirectClient(tb testing.TB, opts Options) *directClient {
	tb.Helper()
	c := &directClient{tb: tb, srv: New(opts)}
	form := url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "grant_type": {"client_credentials"}}
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	c.srv.ServeHTTP(rec, req)
	require.Equal(tb, http.StatusOK, rec.Code, rec.Body.String())
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(tb, json.Unmarshal(rec.Body.Bytes(), &tok))
	c.token = tok.AccessToken
	return c
}

// serve sends one request through the full middleware and returns the body; a non-200 fails.
func (c *directClient) serve(method, target string, body []byte) []byte {
	c.tb.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if !strings.HasPrefix(target, siemFilesPrefix) {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	rec := httptest.NewRecorder()
	c.srv.ServeHTTP(rec, req)
	require.Equal(c.tb, http.StatusOK, rec.Code, "%s %s: %s", method, target, rec.Body.String())
	return rec.Body.Bytes()
}

// apiPage requests one page of an /api/* list; item is data[0].
func apiPageBody(pageSize int, token string, item map[string]any) []byte {
	pag := map[string]any{"pageSize": pageSize}
	if token != "" {
		pag["pageToken"] = token
	}
	b, _ := json.Marshal(map[string]any{"meta": map[string]any{"pagination": pag}, "data": []any{item}})
	return b
}

// apiNext reads meta.pagination.next of an /api/* response.
func apiNext(tb testing.TB, body []byte) string {
	tb.Helper()
	var env struct {
		Meta struct {
			Pagination struct {
				Next string `json:"next"`
			} `json:"pagination"`
		} `json:"meta"`
	}
	require.NoError(tb, json.Unmarshal(body, &env))
	return env.Meta.Pagination.Next
}

// crawlAPI returns the bodies of up to pages pages of an /api/* list.
func (c *directClient) crawlAPI(path string, pageSize, pages int, item map[string]any) [][]byte {
	c.tb.Helper()
	var out [][]byte
	token := ""
	for range pages {
		body := c.serve(http.MethodPost, path, apiPageBody(pageSize, token, item))
		out = append(out, body)
		if token = apiNext(c.tb, body); token == "" {
			break
		}
	}
	return out
}

// crawlREST returns the bodies of up to pages pages of a REST list whose cursor is nextField.
func (c *directClient) crawlREST(path string, q url.Values, nextField string, pages int) [][]byte {
	c.tb.Helper()
	var out [][]byte
	q = maps2Values(q)
	for range pages {
		body := c.serve(http.MethodGet, path+"?"+q.Encode(), nil)
		out = append(out, body)
		next := restNext(c.tb, body, nextField)
		if next == "" {
			break
		}
		q.Set("nextPage", next)
	}
	return out
}

func maps2Values(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// restNext finds the cursor of a REST page: a top-level field, or meta.pagination.next.
func restNext(tb testing.TB, body []byte, field string) string {
	tb.Helper()
	var top map[string]json.RawMessage
	require.NoError(tb, json.Unmarshal(body, &top))
	if raw, ok := top[field]; ok {
		var s string
		require.NoError(tb, json.Unmarshal(raw, &s))
		return s
	}
	return apiNext(tb, body)
}

// batchFileURLs lists the file URLs of a SIEM batch listing page.
func batchFileURLs(tb testing.TB, body []byte) []string {
	tb.Helper()
	var page struct {
		Value []struct {
			URL string `json:"url"`
		} `json:"value"`
	}
	require.NoError(tb, json.Unmarshal(body, &page))
	out := make([]string, 0, len(page.Value))
	for _, v := range page.Value {
		u, err := url.Parse(v.URL)
		require.NoError(tb, err)
		out = append(out, u.RequestURI())
	}
	return out
}

// gunzipAll decompresses a batch file; a file cut by a fault yields what precedes the cut.
func gunzipAll(tb testing.TB, gz []byte) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	require.NoError(tb, err)
	out, _ := io.ReadAll(zr)
	return out
}
