package mimecast

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// The hot paths of a drain, per record: envelope and page decoding, SIEM file reading (gzip,
// NDJSON split, record decode), and content hashing (the id of records without one). The
// fixtures are real answers of the simulated tenant, fetched once through its handler.

// benchTenant answers requests of the benchmarks without a network.
type benchTenant struct {
	h     http.Handler
	token string
}

func newBenchTenant(b *testing.B) *benchTenant {
	b.Helper()
	t := &benchTenant{h: mimecastfake.New(mimecastfake.Options{Seed: 1, Sizes: mimecastfake.Sizes{EventsPerFeed: 2000}})}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {mimecastfake.DefaultClientID}, "client_secret": {mimecastfake.DefaultClientSecret}}
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(t.serve(b, req, false), &tok); err != nil || tok.AccessToken == "" {
		b.Fatalf("getting a token from the fake: %v", err)
	}
	t.token = tok.AccessToken
	return t
}

// serve answers req, with the bearer token when auth (pre-signed URLs refuse a second auth).
func (t *benchTenant) serve(b *testing.B, req *http.Request, auth bool) []byte {
	b.Helper()
	if auth {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s %s: status %d: %s", req.Method, req.URL, rec.Code, rec.Body.String())
	}
	return rec.Body.Bytes()
}

// apiPage is the body of the first page of an /api/* list of pageSize records.
func (t *benchTenant) apiPage(b *testing.B, path string, item any, pageSize int) []byte {
	b.Helper()
	body, err := encodeEnvelope(item, Pagination{PageSize: pageSize})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return t.serve(b, req, true)
}

// siemFile is one gzip-compressed SIEM batch file of the given type (500 events).
func (t *benchTenant) siemFile(b *testing.B, eventType string) []byte {
	b.Helper()
	q := url.Values{"type": {eventType}, "pageSize": {"1"}, "dateRangeStartsAt": {time.Now().Add(-96 * time.Hour).UTC().Format("2006-01-02")}}
	list, err := decodeSIEMBatchList(t.serve(b, httptest.NewRequest(http.MethodGet, PathSIEMBatch+"?"+q.Encode(), nil), true))
	if err != nil || len(list.Files) == 0 {
		b.Fatalf("listing a SIEM file: %v (%d files)", err, len(list.Files))
	}
	u, err := url.Parse(list.Files[0].URL)
	if err != nil {
		b.Fatal(err)
	}
	return t.serve(b, httptest.NewRequest(http.MethodGet, u.RequestURI(), nil), false)
}

func urlLogsItem() any {
	return URLLogsRequest{From: time.Now().Add(-96 * time.Hour), OldestFirst: true}.item()
}

func reportPerRecord(b *testing.B, records int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(records), "ns/record")
}

// BenchmarkDecodeEnvelopeURLPage decodes a 500-record /api/ttp/url/get-logs answer as the
// client does: the body validated once (bufferedJSON), the retry layer's fail[] probe, the
// envelope, then data[0].clickLogs, then every record and its id.
func BenchmarkDecodeEnvelopeURLPage(b *testing.B) {
	body := newBenchTenant(b).apiPage(b, PathURLLogs, urlLogsItem(), 500)
	r := newRedactor("secret")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		valid := json.Valid(body)
		if retryableFailIn(body, valid) {
			b.Fatal("page probed as a retryable failure")
		}
		env, apiErr := decodeEnvelopeIn(r, PathURLLogs, http.StatusOK, body, valid)
		if apiErr != nil {
			b.Fatal(apiErr)
		}
		items, err := decodeURLClicks(env.Data, dataIsValid)
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range items {
			if len(it.ID()) != 64 {
				b.Fatal("no content hash")
			}
		}
		n = len(items)
	}
	if n != 500 {
		b.Fatalf("decoded %d records, want 500", n)
	}
	reportPerRecord(b, n)
}

// BenchmarkDecodeEnvelopeOnly is the envelope alone (meta, fail, data kept raw) of the same page.
func BenchmarkDecodeEnvelopeOnly(b *testing.B) {
	body := newBenchTenant(b).apiPage(b, PathURLLogs, urlLogsItem(), 500)
	r := newRedactor("secret")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, apiErr := decodeEnvelope(r, PathURLLogs, http.StatusOK, body); apiErr != nil {
			b.Fatal(apiErr)
		}
	}
	reportPerRecord(b, 500)
}

// BenchmarkSIEMFileReader reads a 500-event gzip batch file: decompression, line splitting and
// record decoding.
func BenchmarkSIEMFileReader(b *testing.B) {
	gz := newBenchTenant(b).siemFile(b, SIEMTypeURLProtect)
	b.SetBytes(int64(len(gz)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		r := NewSIEMFileReader(io.NopCloser(bytes.NewReader(gz)), 0)
		n = 0
		for {
			ev, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil || ev.Err != nil {
				b.Fatal(err, ev.Err)
			}
			n++
		}
	}
	reportPerRecord(b, n)
}

// BenchmarkNDJSONReader splits the same file, decompressed, into lines.
func BenchmarkNDJSONReader(b *testing.B) {
	gz := newBenchTenant(b).siemFile(b, SIEMTypeURLProtect)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		b.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		r := NewNDJSONReader(bytes.NewReader(plain), 0)
		n = 0
		for {
			if _, err := r.Next(); err != nil {
				break
			}
			n++
		}
	}
	reportPerRecord(b, n)
}

// BenchmarkContentHash is the id of a record without one: a URL Protect click and a SIEM line.
func BenchmarkContentHash(b *testing.B) {
	tenant := newBenchTenant(b)
	env, apiErr := decodeEnvelope(newRedactor("secret"), PathURLLogs, http.StatusOK, tenant.apiPage(b, PathURLLogs, urlLogsItem(), 1))
	if apiErr != nil {
		b.Fatal(apiErr)
	}
	clicks, err := decodeURLClicks(env.Data, false)
	if err != nil || len(clicks) != 1 {
		b.Fatal(err)
	}
	siem, err := NewSIEMFileReader(io.NopCloser(bytes.NewReader(tenant.siemFile(b, SIEMTypeURLProtect))), 0).Next()
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		raw  []byte
	}{{"url_click", clicks[0].Raw}, {"siem_line", siem.Raw}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.raw)))
			b.ReportAllocs()
			for b.Loop() {
				if len(ContentHash(tc.raw)) != 64 {
					b.Fatal("not a SHA-256 hex")
				}
			}
		})
		// The definition of the canonical form, which ContentHash used to run: the baseline.
		b.Run(tc.name+"_by_decoding", func(b *testing.B) {
			b.SetBytes(int64(len(tc.raw)))
			b.ReportAllocs()
			for b.Loop() {
				if len(canonicalJSONByDecoding(tc.raw)) == 0 {
					b.Fatal("empty canonical form")
				}
			}
		})
	}
}

// BenchmarkRetryableFailProbe is the retry layer's look at every 2xx page for a retryable
// fail[], on a 500-record page that has none; by_decoding is how it used to look.
func BenchmarkRetryableFailProbe(b *testing.B) {
	body := newBenchTenant(b).apiPage(b, PathURLLogs, urlLogsItem(), 500)
	for _, tc := range []struct {
		name  string
		probe func([]byte) bool
	}{{"scan", retryableFail}, {"by_decoding", retryableFailByDecoding}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if tc.probe(body) {
					b.Fatal("a page without fail[] is not retryable")
				}
			}
			reportPerRecord(b, 500)
		})
	}
}
