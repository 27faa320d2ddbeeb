package mimecast

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cutContent serves content whole, except for the first `cuts` answers, which send the full
// Content-Length and then only half the bytes before closing the connection.
func cutContent(content string, cuts int32, calls *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Content-Type", "message/rfc822")
		w.Header().Set("Content-Length", strconv.Itoa(len(content)))
		w.WriteHeader(200)
		if n > cuts {
			_, _ = io.WriteString(w, content)
			return
		}
		_, _ = io.WriteString(w, content[:len(content)/2])
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}
}

func TestStreamCutMidBodyResumesWhereItBrokeOff(t *testing.T) {
	content := strings.Repeat("Subject: resumed\r\n", 500)
	var calls atomic.Int32
	r := newRig(t, cutContent(content, 2, &calls))
	body, _, err := r.client.PostStream(t.Context(), "/api/archive/get-message-part", map[string]string{"id": "m1"})
	require.NoError(t, err)
	defer body.Close()
	got, err := io.ReadAll(body)
	require.NoError(t, err)
	assert.Equal(t, content, string(got), "every byte once, in order")
	assert.Equal(t, int32(3), calls.Load())
	assert.Contains(t, r.metrics.Events(), "retry /api/archive/get-message-part network")
	assert.Equal(t, int64(2), r.client.Stats().Retries)
	assert.Equal(t, 2, strings.Count(r.logs.Text(), "WARN mimecast /api/archive/get-message-part: the answer broke off after "+strconv.Itoa(len(content)/2)+" bytes (network); asked again and resumed there"))
}

func TestStreamCutOnEveryAnswerFailsAfterMaxRetries(t *testing.T) {
	content := strings.Repeat("x", 4096)
	var calls atomic.Int32
	r := newRig(t, cutContent(content, 100, &calls), func(c *Config) { c.MaxRetries = 2 })
	body, _, err := r.client.PostStream(t.Context(), "/api/archive/get-file", map[string]string{"id": "a1"})
	require.NoError(t, err)
	defer body.Close()
	got, err := io.ReadAll(body)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, content[:len(content)/2], string(got), "what arrived, once")
	assert.Equal(t, int32(3), calls.Load(), "the first answer and two more")
}

func TestStreamWhoseContentChangedIsNotResumed(t *testing.T) {
	var calls atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		if calls.Load() == 0 {
			cutContent(strings.Repeat("a", 1000), 1, &calls)(w, req)
			return
		}
		calls.Add(1)
		w.Header().Set("Content-Type", "message/rfc822")
		_, _ = io.WriteString(w, strings.Repeat("b", 1200))
	})
	body, _, err := r.client.PostStream(t.Context(), "/api/archive/get-message-part", map[string]string{"id": "m1"})
	require.NoError(t, err)
	defer body.Close()
	got, err := io.ReadAll(body)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Contains(t, err.Error(), "1200 bytes instead of 1000")
	assert.Equal(t, strings.Repeat("a", 500), string(got), "nothing of the other content is spliced on")
}
