package mimecastfake

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func s3ErrorCode(t *testing.T, raw []byte) string {
	t.Helper()
	var e struct {
		Code string `xml:"Code"`
	}
	require.NoError(t, xml.Unmarshal(raw, &e), string(raw))
	return e.Code
}

func firstFileURL(t *testing.T, h *tenantHarness) string {
	t.Helper()
	l := listBatch(t, h, url.Values{"type": {"receipt"}})
	require.NotEmpty(t, l.Value)
	return l.Value[0].URL
}

func TestSignedURLExpiresLikeS3(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, SIEMURLTTL: 10 * time.Minute})
	u := firstFileURL(t, h)

	h.clock.Advance(10 * time.Minute)
	resp, _ := h.get(u, nil, false)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "valid up to and including the expiry instant")

	h.clock.Advance(time.Second)
	resp, raw := h.get(u, nil, false)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "application/xml", resp.Header.Get("Content-Type"))
	assert.Equal(t, "AccessDenied", s3ErrorCode(t, raw))
	assert.Contains(t, string(raw), "Request has expired")
}

func TestSignedURLRefusesABearerToken(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1})
	resp, raw := h.get(firstFileURL(t, h), nil, true)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "InvalidArgument", s3ErrorCode(t, raw))
	assert.Contains(t, string(raw), "Only one auth mechanism allowed")
}

func TestTamperedSignedURLIsRefused(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, Sizes: Sizes{EventsPerFeed: 1000}})
	u, err := url.Parse(firstFileURL(t, h))
	require.NoError(t, err)

	other := *u
	other.Path = siemFilesPrefix + packInts('F', 0, 0, 1000, 0) + siemFileSuffix // a bigger file, same signature
	resp, raw := h.get(other.String(), nil, false)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "SignatureDoesNotMatch", s3ErrorCode(t, raw))

	longer := *u
	q := longer.Query()
	q.Set("X-Amz-Expires", "604800")
	longer.RawQuery = q.Encode()
	resp, raw = h.get(longer.String(), nil, false)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "SignatureDoesNotMatch", s3ErrorCode(t, raw))

	bare := *u
	bare.RawQuery = ""
	resp, raw = h.get(bare.String(), nil, false)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "AccessDenied", s3ErrorCode(t, raw))
}

func TestSignedURLsOfAnotherTenantAreRefused(t *testing.T) {
	a := newTenantHarness(t, Options{Seed: 1})
	b := newTenantHarness(t, Options{Seed: 2})
	u, err := url.Parse(firstFileURL(t, a))
	require.NoError(t, err)
	resp, _ := b.get(b.hs.URL+u.RequestURI(), nil, false)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestTruncatedGzipFaultCutsTheFileMidStream(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, Sizes: Sizes{EventsPerFeed: 200, SIEMEventsPerFile: 100}})
	h.srv.SetFaults(Faults{TruncatedGzip: 1})
	l := listBatch(t, h, url.Values{"type": {"spam"}})
	require.Len(t, l.Value, 2)

	resp, raw := h.get(l.Value[0].URL, nil, false)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, 50, strings.Count(string(plain), "\n"), "the first half arrives before the cut")

	// The same URL stays broken (it is the file that is corrupt); the next file is whole.
	_, again := h.get(l.Value[0].URL, nil, false)
	assert.Equal(t, raw, again)
	assert.Len(t, downloadBatch(t, h, l.Value[1].URL), 100)
	assert.Zero(t, h.srv.Faults().TruncatedGzip)
}

func TestMalformedLinesFaultBreaksExactlyOneLine(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, Sizes: Sizes{EventsPerFeed: 40}})
	h.srv.SetFaults(Faults{MalformedLines: 1})
	u := firstFileURL(t, h)
	resp, raw := h.get(u, nil, false)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err, "the gzip stream itself is intact")
	lines := strings.Split(strings.TrimSuffix(string(plain), "\n"), "\n")
	require.Len(t, lines, 41)
	bad := 0
	for i, line := range lines {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil {
			bad++
			assert.Greater(t, i, 0)
			assert.Less(t, i, 40)
		}
	}
	assert.Equal(t, 1, bad)
}

func TestDuplicateURLsFaultRepeatsOneURL(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, Sizes: Sizes{EventsPerFeed: 40, SIEMEventsPerFile: 10}})
	h.srv.SetFaults(Faults{DuplicateURLs: 1})
	l := listBatch(t, h, url.Values{"type": {"av"}})
	require.Len(t, l.Value, 5)
	seen := map[string]int{}
	for _, v := range l.Value {
		seen[v.URL]++
	}
	assert.Len(t, seen, 4, "four files, one of them listed twice")

	next := listBatch(t, h, url.Values{"type": {"av"}})
	assert.Len(t, next.Value, 4, "the fault counted down")
}

func TestExpiredURLsFaultListsURLsThatAreAlreadyDead(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1})
	_, caughtUp := crawlBatch(t, h, url.Values{"type": {"av"}})
	h.srv.SetFaults(Faults{ExpiredURLs: 1})
	empty := listBatch(t, h, url.Values{"type": {"av"}, "nextPage": {caughtUp}})
	require.Empty(t, empty.Value)
	assert.Equal(t, 1, h.srv.Faults().ExpiredURLs, "a listing without files does not take the fault")

	l := listBatch(t, h, url.Values{"type": {"journal"}})
	require.NotEmpty(t, l.Value)
	assert.Zero(t, h.srv.Faults().ExpiredURLs)
	exp, err := time.Parse("2006-01-02T15:04:05.000Z", l.Value[0].Expiry)
	require.NoError(t, err)
	assert.True(t, exp.Before(h.clock.Now()))
	resp, raw := h.get(l.Value[0].URL, nil, false)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "AccessDenied", s3ErrorCode(t, raw))

	fresh := listBatch(t, h, url.Values{"type": {"journal"}})
	resp, _ = h.get(fresh.Value[0].URL, nil, false)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "listing again yields a working URL")
}

func TestBatchFilesEndWithOrWithoutANewline(t *testing.T) {
	h := newTenantHarness(t, Options{Seed: 1, Sizes: Sizes{EventsPerFeed: 20, SIEMEventsPerFile: 10}})
	l := listBatch(t, h, url.Values{"type": {"receipt"}})
	require.Len(t, l.Value, 2)
	var endings []bool
	for _, v := range l.Value {
		_, raw := h.get(v.URL, nil, false)
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		require.NoError(t, err)
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		endings = append(endings, strings.HasSuffix(string(plain), "\n"))
	}
	assert.ElementsMatch(t, []bool{true, false}, endings)
}
