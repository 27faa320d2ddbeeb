package mimecast

import (
	"io"
	"net/http"
	"testing"
	"time"

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
