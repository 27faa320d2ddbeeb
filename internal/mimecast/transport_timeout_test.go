package mimecast

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-connect/mimecast-connect/internal/hostile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStalledStreamIsCutOffAfterTimeout(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(200)
		_, _ = w.Write([]byte("first part"))
		w.(http.Flusher).Flush()
		hang(req)
	}, func(c *Config) { c.Timeout = 100 * time.Millisecond })
	body, ct, err := r.client.PostStream(t.Context(), "/api/archive/get-file", map[string]string{"id": "x"})
	require.NoError(t, err)
	defer body.Close()
	assert.Equal(t, "application/octet-stream", ct)
	got, err := io.ReadAll(body)
	assert.Equal(t, "first part", string(got))
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "/api/archive/get-file", apiErr.Endpoint)
	assert.ErrorIs(t, err, errAttemptTimeout)
}

func TestSlowStreamConsumerIsNotCutOff(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write([]byte("whole file"))
	}, func(c *Config) { c.Timeout = 50 * time.Millisecond })
	body, _, err := r.client.PostStream(t.Context(), "/api/archive/get-file", nil)
	require.NoError(t, err)
	defer body.Close()
	// The pipeline takes longer than the timeout before it reads: the server is not to blame.
	time.Sleep(150 * time.Millisecond)
	got, err := io.ReadAll(body)
	require.NoError(t, err)
	assert.Equal(t, "whole file", string(got))
}

func TestBodyLargerThanMaxBodyBytesIsAnError(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, `{"meta":{"status":200},"data":[`+`{"id":"aaaaaaaaaaaaaaaaaaaa"},`+`{"id":"b"}]}`)
	}, func(c *Config) { c.MaxBodyBytes = 32 })
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "/api/x", apiErr.Endpoint)
	assert.Contains(t, err.Error(), "max_body_bytes")
	assert.False(t, apiErr.Retryable)
	assert.LessOrEqual(t, len(apiErr.Body), snippetLen+len("…"))
}

// dripServer sends head bytes of a 64 KiB file, then one byte every every, for as long as the
// client reads (up to a minute).
func dripServer(t *testing.T, head int, every time.Duration) string {
	t.Helper()
	file := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(bytes.Repeat([]byte("a"), 64<<10))
	})
	srv := httptest.NewServer(hostile.Wrap(file, hostile.Rule{
		Match: hostile.Any,
		Do:    hostile.Trickle{Head: head, Every: every, For: time.Minute},
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestADownloadThatDripsIsCutOffThoughEachReadGetsABite(t *testing.T) {
	url := dripServer(t, 20, 20*time.Millisecond)
	r := newRig(t, func(http.ResponseWriter, *http.Request) {}, func(c *Config) { c.Timeout = 300 * time.Millisecond; c.MaxRetries = -1 })
	body, err := r.client.Download(t.Context(), url+"/file.json.gz?X-Amz-Signature=abc")
	require.NoError(t, err)
	defer body.Close()
	start := time.Now()
	_, err = io.Copy(io.Discard, body)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.True(t, apiErr.Retryable)
	assert.Contains(t, err.Error(), "the answer came at under 16 KiB/s")
	assert.NotContains(t, err.Error(), "abc", "never the URL's signature")
	assert.Less(t, time.Since(start), 3*time.Second, "cut once the timeout's worth of waiting is used")
}

func TestASlowReaderOfAFastDownloadIsNotCutOff(t *testing.T) {
	payload := bytes.Repeat([]byte("z"), 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(payload) }))
	t.Cleanup(srv.Close)
	r := newRig(t, func(http.ResponseWriter, *http.Request) {}, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	body, err := r.client.Download(t.Context(), srv.URL+"/f")
	require.NoError(t, err)
	defer body.Close()
	buf := make([]byte, 4<<10)
	var got int
	for i := 0; ; i++ {
		n, err := body.Read(buf)
		got += n
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		time.Sleep(40 * time.Millisecond) // the pipeline is slow: 16 reads take 3x the timeout
	}
	assert.Equal(t, len(payload), got)
}

func TestAPlainHTTPDownloadUnderAnHTTPSAPIIsSaidOnce(t *testing.T) {
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("x")) }))
	t.Cleanup(files.Close)
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(api.Close)
	logs := &logRecorder{}
	c, err := New(Config{APIURL: api.URL, ClientID: "id", ClientSecret: "secret-value", Logger: logs})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	for range 3 {
		body, err := c.Download(t.Context(), files.URL+"/f.json.gz?X-Amz-Signature=s1gn4tur3")
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, body)
		body.Close()
	}
	assert.Equal(t, 1, strings.Count(logs.Text(), "is plain http while the API is https"))
	assert.NotContains(t, logs.Text(), "s1gn4tur3")
}
