package mimecastfake

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// elapsed is how long f took.
func elapsed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// The latency knob delays API calls and downloads each by their own setting.
func TestLatencyDelaysAPICallsAndDownloadsEachByItsOwn(t *testing.T) {
	const d = 150 * time.Millisecond
	cases := []struct {
		name              string
		latency           Latency
		apiAtLeast, dlMin time.Duration
	}{
		{"API calls", Latency{API: d}, d, 0},
		{"downloads", Latency{Download: d}, 0, d},
		{"jitter on top", Latency{API: d, APIJitter: d, Download: d, DownloadJitter: d}, d, d},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newTenantHarness(t, Options{Latency: tc.latency})
			var fileURL string
			api := elapsed(func() { fileURL = firstFileURL(t, h) })
			assert.GreaterOrEqual(t, api, tc.apiAtLeast, "a listing call")
			var status int
			dl := elapsed(func() {
				resp, _ := h.get(fileURL, nil, false)
				status = resp.StatusCode
			})
			require.Equal(t, http.StatusOK, status)
			assert.GreaterOrEqual(t, dl, tc.dlMin, "a download")
		})
	}
}

// The jitter is drawn per call: calls of one tenant take different times.
func TestLatencyJitterVariesPerCall(t *testing.T) {
	h := newTenantHarness(t, Options{Latency: Latency{APIJitter: 100 * time.Millisecond}})
	var most time.Duration
	for range 10 {
		most = max(most, elapsed(func() { firstFileURL(t, h) }))
	}
	// All ten below 20 ms has a chance of 0.2^10 with jitter drawn per call.
	assert.Greater(t, most, 20*time.Millisecond)
}
