package mimecast

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const batchFileLines = `{"type":"url protect","timestamp":1731454700000,"aggregateId":"u1","messageId":"<u1@x>"}
{"type":"url protect","timestamp":1731454700001,"aggregateId":
{"type":"url protect","timestamp":1731454700002,"aggregateId":"u3"}`

// batchRig serves a batch listing whose first URL is listed twice, plus the files themselves.
func newBatchRig(t *testing.T) *endpointRig {
	r := newEndpointRig(t)
	base := r.srv.URL
	listing := fmt.Sprintf(`{"value":[
		{"url":"%[1]s/files/a.json.gz?X-Amz-Signature=sig-a","expiry":"2099-01-01T00:00:00.000Z","size":100},
		{"url":"%[1]s/files/b.json.gz?X-Amz-Signature=sig-b","expiry":"2099-01-01T00:00:00.000Z","size":100},
		{"url":"%[1]s/files/a.json.gz?X-Amz-Signature=sig-a","expiry":"2099-01-01T00:00:00.000Z","size":100}
	],"@nextPage":"page-2","isCaughtUp":false}`, base)
	r.handleJSON(http.MethodGet, PathSIEMBatch, []byte(listing))
	file := gzipped(t, batchFileLines)
	for _, p := range []string{"/files/a.json.gz", "/files/b.json.gz"} {
		r.handle(http.MethodGet, p, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/gzip")
			_, _ = w.Write(file)
		})
	}
	r.handle(http.MethodGet, "/files/expired.json.gz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`))
	})
	r.handle(http.MethodGet, "/files/gone.json.gz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})
	return r
}

func TestSIEMBatchFilesPageSendsTypeDatesAndCursor(t *testing.T) {
	r := newBatchRig(t)
	start := time.Date(2024, 6, 5, 23, 30, 0, 0, time.FixedZone("x", -2*3600)) // 2024-06-06 in UTC
	_, err := r.client.SIEMBatchFilesPage(t.Context(), SIEMBatchRequest{Type: SIEMTypeURLProtect, Start: start, End: start.Add(24 * time.Hour)}, "page-1")
	require.NoError(t, err)

	reqs := r.requests(PathSIEMBatch)
	require.Len(t, reqs, 1)
	assert.Equal(t, "Bearer "+endpointRigToken, reqs[0].Auth)
	assert.Contains(t, reqs[0].RawQuery, "type=url+protect", "the space-containing type is form-encoded")
	q, err := url.ParseQuery(reqs[0].RawQuery)
	require.NoError(t, err)
	assert.Equal(t, "url protect", q.Get("type"))
	assert.Equal(t, "2024-06-06", q.Get("dateRangeStartsAt"))
	assert.Equal(t, "2024-06-07", q.Get("dateRangeEndsAt"))
	assert.Equal(t, "100", q.Get("pageSize"))
	assert.Equal(t, "page-1", q.Get("nextPage"))
}

func TestSIEMBatchFileListedTwiceIsDownloadedOnce(t *testing.T) {
	r := newBatchRig(t)
	list, err := r.client.SIEMBatchFilesPage(t.Context(), SIEMBatchRequest{Type: SIEMTypeURLProtect}, "")
	require.NoError(t, err)
	require.Len(t, list.Files, 2)
	assert.Equal(t, 1, list.DuplicateURLs)
	assert.Equal(t, "page-2", list.NextPage)

	for _, f := range list.Files {
		fr, err := r.client.OpenBatchFile(t.Context(), f.URL)
		require.NoError(t, err)
		_, err = drainSIEMFile(t, fr)
		require.NoError(t, err)
		require.NoError(t, fr.Close())
	}
	assert.Len(t, r.requests("/files/a.json.gz"), 1)
	assert.Len(t, r.requests("/files/b.json.gz"), 1)
}

func TestBatchFileDownloadCarriesNoAuthorization(t *testing.T) {
	r := newBatchRig(t)
	_, err := r.client.SIEMBatchFilesPage(t.Context(), SIEMBatchRequest{Type: SIEMTypeAV}, "")
	require.NoError(t, err, "an API call first, so that the client holds a token")

	fr, err := r.client.OpenBatchFile(t.Context(), r.srv.URL+"/files/a.json.gz?X-Amz-Signature=sig-a")
	require.NoError(t, err)
	defer fr.Close()
	_, err = fr.Next()
	require.NoError(t, err)

	reqs := r.requests("/files/a.json.gz")
	require.Len(t, reqs, 1)
	assert.Empty(t, reqs[0].Auth, "the bearer token must never reach the file store")
	assert.Equal(t, "X-Amz-Signature=sig-a", reqs[0].RawQuery)
}

func TestBatchFileOverHTTPYieldsBadLineAsRecordAndKeepsGoing(t *testing.T) {
	r := newBatchRig(t)
	fr, err := r.client.OpenBatchFile(t.Context(), r.srv.URL+"/files/b.json.gz?X-Amz-Signature=sig-b")
	require.NoError(t, err)
	defer fr.Close()
	events, err := drainSIEMFile(t, fr)
	require.NoError(t, err)
	require.Len(t, events, 3)
	assert.Equal(t, "u1", events[0].AggregateID)
	assert.Equal(t, "<u1@x>", events[0].MessageID())
	require.Error(t, events[1].Err)
	assert.Contains(t, string(events[1].Raw), `"aggregateId":`)
	assert.Equal(t, "u3", events[2].AggregateID, "the last line has no newline")
	assert.Equal(t, time.UnixMilli(1731454700002).UTC(), events[2].EventTime())
}

func TestExpiredBatchURLIsADistinctErrorWithoutTheSignature(t *testing.T) {
	r := newBatchRig(t)
	for _, p := range []string{"/files/expired.json.gz", "/files/gone.json.gz"} {
		t.Run(p, func(t *testing.T) {
			_, err := r.client.OpenBatchFile(t.Context(), r.srv.URL+p+"?X-Amz-Signature=very-secret-signature")
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrBatchURLExpired)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.True(t, apiErr.Expired())
			assert.NotContains(t, err.Error(), "very-secret-signature")
			assert.Contains(t, err.Error(), p)
		})
	}
}

func TestBatchFileServerErrorIsNotExpired(t *testing.T) {
	r := newEndpointRig(t)
	r.handle(http.MethodGet, "/files/broken.json.gz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	_, err := r.client.OpenBatchFile(t.Context(), r.srv.URL+"/files/broken.json.gz")
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrBatchURLExpired), "only 403/404 mean expired")
}

// twentyEventFile is a gzip batch file of 20 av events, a0 to a19, flushed after each line.
func twentyEventFile(t *testing.T) []byte {
	t.Helper()
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf(`{"type":"av","aggregateId":"a%d"}`, i))
	}
	return gzippedFlushed(t, lines)
}

// A transfer cut before its Content-Length is a failed transfer (the file is read again), never
// a truncated file: both end in an unexpected EOF, but only the download's own reads say which.
func TestBatchFileCutMidTransferIsATransferError(t *testing.T) {
	r := newEndpointRig(t)
	full := twentyEventFile(t)
	r.handle(http.MethodGet, "/files/cut.json.gz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(full)))
		_, _ = w.Write(full[:len(full)/2])
		// Returning early with a Content-Length promised: the client sees an unexpected EOF.
	})
	fr, err := r.client.OpenBatchFile(t.Context(), r.srv.URL+"/files/cut.json.gz")
	require.NoError(t, err)
	defer fr.Close()
	events, err := drainSIEMFile(t, fr)
	require.Error(t, err, "the transfer failed")
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.NotErrorIs(t, err, ErrBatchFileCorrupt)
	require.Greater(t, len(events), 2, "the events before the cut")
	assert.Equal(t, "a0", events[0].AggregateID)
	for _, ev := range events {
		assert.NoError(t, ev.Err, "no event stands for a corrupt file")
	}
}

// The same file served whole but truncated (its Content-Length says so) is a corrupt file.
func TestBatchFileTruncatedButSentWholeIsACorruptRecord(t *testing.T) {
	r := newEndpointRig(t)
	full := twentyEventFile(t)
	r.handle(http.MethodGet, "/files/truncated.json.gz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(full[:len(full)/2])
	})
	fr, err := r.client.OpenBatchFile(t.Context(), r.srv.URL+"/files/truncated.json.gz")
	require.NoError(t, err)
	defer fr.Close()
	events, err := drainSIEMFile(t, fr)
	require.NoError(t, err)
	require.Greater(t, len(events), 2)
	assert.Equal(t, "a0", events[0].AggregateID)
	assert.ErrorIs(t, events[len(events)-1].Err, ErrBatchFileCorrupt)
}

func TestSIEMEventsPageDecodesInlineEvents(t *testing.T) {
	r := newEndpointRig(t)
	r.handleJSON(http.MethodGet, PathSIEMStream, readFixture(t, "siem_stream.json"))
	start := time.Date(2025, 12, 24, 11, 23, 41, 955_000_000, time.UTC)
	p, err := r.client.SIEMEventsPage(t.Context(), SIEMStreamRequest{Start: start, Types: []string{"url protect"}}, "cur")
	require.NoError(t, err)
	require.Len(t, p.Events, 2)
	assert.Equal(t, "url protect", p.Events[0].Type)
	assert.Equal(t, "stream-next", p.NextPage)

	q, err := url.ParseQuery(r.requests(PathSIEMStream)[0].RawQuery)
	require.NoError(t, err)
	assert.Equal(t, "2025-12-24T11:23:41.955Z", q.Get("dateRangeStartsAt"))
	assert.Equal(t, []string{"url protect"}, q["types"])
	assert.Equal(t, "cur", q.Get("nextPage"))
}

func TestSIEMErrorBodyIsAnAPIError(t *testing.T) {
	r := newEndpointRig(t)
	r.handle(http.MethodGet, PathSIEMStream, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.Copy(w, strings.NewReader(`{"error":{"code":"Request Validation Failed","message":"Invalid date range"}}`))
	})
	_, err := r.client.SIEMEventsPage(t.Context(), SIEMStreamRequest{}, "")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
	assert.Equal(t, []string{"Request Validation Failed"}, apiErr.Codes)
}
