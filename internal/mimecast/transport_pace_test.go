package mimecast

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func answer(status int, h map[string]string) *http.Response {
	resp := &http.Response{StatusCode: status, Header: http.Header{}}
	for k, v := range h {
		resp.Header.Set(k, v)
	}
	return resp
}

func TestQuotaIsUnpacedUntilHeadersSaySomething(t *testing.T) {
	clock := newFakeClock()
	q := newQuota(clock.Now, time.Minute, 16)
	for range 100 {
		r := q.reserve()
		require.Equal(t, reservation{}, r)
		q.done(answer(200, nil), false)
	}
}

func TestQuotaWaitsForResetWhenUsedUp(t *testing.T) {
	clock := newFakeClock()
	q := newQuota(clock.Now, time.Minute, 16)
	require.Equal(t, reservation{}, q.reserve())
	q.done(answer(200, map[string]string{"X-RateLimit-Limit": "800", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4500"}), false)

	r := q.reserve()
	assert.True(t, r.again)
	assert.Equal(t, 4500*time.Millisecond+resetMargin, r.delay)

	clock.Advance(4500*time.Millisecond + resetMargin)
	assert.Equal(t, reservation{}, q.reserve(), "a new window holds the whole limit")
}

func TestQuotaSpreadsTheLastCallsOverTheWindow(t *testing.T) {
	clock := newFakeClock()
	q := newQuota(clock.Now, time.Minute, 16)
	q.reserve()
	q.done(answer(200, map[string]string{"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "4", "X-RateLimit-Reset": "1000"}), false)

	var delays []time.Duration
	for range 4 {
		r := q.reserve()
		require.False(t, r.again)
		delays = append(delays, r.delay)
	}
	assert.Equal(t, time.Duration(0), delays[0])
	for i := 1; i < len(delays); i++ {
		assert.Greater(t, delays[i], delays[i-1], "calls are spread, not sent at once: %v", delays)
	}
	assert.Less(t, delays[3], time.Second, "all within the window")
	r := q.reserve()
	assert.True(t, r.again, "the fifth call waits for the next window")
	assert.Equal(t, time.Second+resetMargin, r.delay)
}

func TestQuotaCountsCallsInFlight(t *testing.T) {
	clock := newFakeClock()
	q := newQuota(clock.Now, time.Minute, 16)
	for range 3 {
		q.reserve() // three calls in flight
	}
	// The first answer says 3 left; the other two calls may already have been counted or not.
	q.done(answer(200, map[string]string{"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1000"}), false)
	assert.Equal(t, 1, q.remaining)
	// A late answer from before cannot raise the estimate within the window.
	q.done(answer(200, map[string]string{"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "1100"}), false)
	assert.Equal(t, 1, q.remaining)
}

func TestBare429HoldsBackOtherCalls(t *testing.T) {
	clock := newFakeClock()
	q := newQuota(clock.Now, time.Minute, 16)
	q.reserve()
	q.done(answer(http.StatusTooManyRequests, nil), false)
	r := q.reserve()
	assert.True(t, r.again)
	assert.Equal(t, rateLimitDefault+resetMargin, r.delay)

	q2 := newQuota(clock.Now, time.Minute, 16)
	q2.reserve()
	q2.done(answer(http.StatusTooManyRequests, map[string]string{"Retry-After": "7"}), false)
	assert.Equal(t, 7*time.Second+resetMargin, q2.reserve().delay)
}

func TestQuotaResetIsCappedAtMaxRetryWait(t *testing.T) {
	clock := newFakeClock()
	q := newQuota(clock.Now, 10*time.Second, 16)
	q.reserve()
	q.done(answer(http.StatusTooManyRequests, map[string]string{"X-RateLimit-Reset": "99999999999"}), false)
	assert.Equal(t, 10*time.Second, q.reserve().delay)
}

func TestQuotaProbesOnceWhenTheWindowEndIsUnknown(t *testing.T) {
	clock := newFakeClock()
	q := newQuota(clock.Now, time.Minute, 16)
	q.reserve()
	q.done(answer(http.StatusTooManyRequests, map[string]string{"X-RateLimit-Limit": "2", "X-RateLimit-Reset": "1000"}), false)
	clock.Advance(time.Second + resetMargin)
	// New window: two calls by our count (one at a time, after a 429), then one probe while
	// the others wait.
	assert.Equal(t, reservation{}, q.reserve())
	q.done(answer(200, nil), false)
	assert.Equal(t, reservation{}, q.reserve())
	q.done(answer(200, nil), false)
	probe := q.reserve()
	assert.True(t, probe.probe)
	waiting := q.reserve()
	require.NotNil(t, waiting.changed)
	q.done(answer(http.StatusTooManyRequests, map[string]string{"X-RateLimit-Limit": "2", "X-RateLimit-Reset": "800"}), true)
	select {
	case <-waiting.changed:
	default:
		t.Fatal("waiters are woken when the probe is back")
	}
	r := q.reserve()
	assert.True(t, r.again)
	assert.Equal(t, 800*time.Millisecond+resetMargin, r.delay)
}

// quotaServer is an API with a fixed-window quota on the test clock, like Mimecast's per-app
// quota: limit calls per window, then 429 with X-RateLimit-* until the window ends.
type quotaServer struct {
	now           func() time.Time
	start         time.Time
	limit         int
	window        time.Duration
	alwaysHeaders bool // false: headers only on 429, as some tenants do

	mu       sync.Mutex
	used     map[int]int // calls per window
	rejected map[int]int // 429s per window
}

func (s *quotaServer) handle(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	now := s.now()
	win := int(now.Sub(s.start) / s.window)
	reset := s.start.Add(time.Duration(win+1) * s.window).Sub(now)
	s.used[win]++
	over := s.used[win] > s.limit
	if over {
		s.rejected[win]++
	}
	remaining := max(s.limit-s.used[win], 0)
	s.mu.Unlock()
	if over || s.alwaysHeaders {
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.limit))
		w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Milliseconds(), 10))
	}
	if over {
		writeJSON(w, http.StatusTooManyRequests, `{"fail":[{"code":"rate_limit_exceeded","message":"Too many requests"}]}`)
		return
	}
	writeJSON(w, 200, okEnvelope)
}

func TestPacingAllowsAtMostOne429PerQuotaWindow(t *testing.T) {
	for _, tc := range []struct {
		name          string
		alwaysHeaders bool
		limit         int
		workers       int
		maxInFlight   int
	}{
		{"headers on every answer", true, 5, 4, 0},
		{"headers on every answer, large quota", true, 40, 4, 0},
		{"headers only with 429", false, 5, 4, 0},
		// Nothing is known before the first 429; max_in_flight bounds how many calls it finds
		// in flight, whatever the number of callers.
		{"headers only with 429, 16 callers, max_in_flight 3", false, 5, 16, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Real time: a fake clock whose Sleep jumps forward at once makes concurrent sleeps
			// add up (four workers waiting 100ms each move it 400ms), which no real quota
			// window sees. The window is short so the test stays fast.
			srv := &quotaServer{limit: tc.limit, window: 250 * time.Millisecond, alwaysHeaders: tc.alwaysHeaders,
				used: map[int]int{}, rejected: map[int]int{}, now: time.Now, start: time.Now()}
			r := newRig(t, srv.handle, func(c *Config) {
				c.MaxRetries = 10
				c.Now = time.Now
				c.Sleep = nil
				c.MaxInFlight = tc.maxInFlight
			})

			workers, perWorker := tc.workers, 40/tc.workers
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for range perWorker {
						_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
						assert.NoError(t, err)
					}
				})
			}
			wg.Wait()

			srv.mu.Lock()
			defer srv.mu.Unlock()
			windows := len(srv.used)
			assert.GreaterOrEqual(t, windows, workers*perWorker/tc.limit, "the calls needed that many windows")
			for win, n := range srv.rejected {
				if win == 0 && !tc.alwaysHeaders {
					// Nothing is known before the first 429: every call in flight may hit it.
					inFlight := workers
					if tc.maxInFlight > 0 {
						inFlight = min(inFlight, tc.maxInFlight)
					}
					assert.LessOrEqual(t, n, inFlight, "window 0")
					continue
				}
				assert.LessOrEqual(t, n, 1, "429s in window %d", win)
			}
			t.Logf("%d windows, 429s per window: %v", windows, srv.rejected)
		})
	}
}

func TestQuotaCapsCallsInFlightAndTightensAfterA429(t *testing.T) {
	clock := newFakeClock()
	q := newQuota(clock.Now, time.Minute, 4)
	for range 4 {
		require.Equal(t, reservation{}, q.reserve())
	}
	r := q.reserve()
	require.NotNil(t, r.changed, "a fifth call waits for one of the four to come back")

	// A 429 comes back: the cap drops to one call, once the window it names has passed.
	q.done(answer(429, map[string]string{"X-RateLimit-Reset": "1000"}), false)
	for range 3 {
		q.done(answer(429, nil), false)
	}
	clock.Advance(time.Second + resetMargin)
	require.Equal(t, reservation{}, q.reserve())
	assert.NotNil(t, q.reserve().changed, "one call at a time after a 429")

	// Each answer that is not a 429 lets one more call go, up to max_in_flight.
	q.done(answer(200, nil), false) // cap 2
	for range 2 {
		require.Equal(t, reservation{}, q.reserve())
	}
	assert.NotNil(t, q.reserve().changed, "two at a time after one good answer")
	q.done(answer(200, nil), false)
	q.done(answer(200, nil), false) // cap 4
	for range 4 {
		require.Equal(t, reservation{}, q.reserve())
	}
	assert.NotNil(t, q.reserve().changed, "four after three")
	for range 4 {
		q.done(answer(200, nil), false)
	}
	for range 4 {
		require.Equal(t, reservation{}, q.reserve())
	}
	assert.NotNil(t, q.reserve().changed, "never above max_in_flight")
}

func TestQuotaRateIsLearnedFromTheHeaders(t *testing.T) {
	clock := newFakeClock()
	q := newQuota(clock.Now, time.Minute, 16)
	_, known := q.rate()
	assert.False(t, known, "no header yet")

	q.reserve()
	q.done(answer(200, nil), false)
	_, known = q.rate()
	assert.False(t, known, "an answer without quota headers tells nothing")

	headers := map[string]string{"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59", "X-RateLimit-Reset": "1000"}
	q.reserve()
	q.done(answer(200, headers), false)
	rate, known := q.rate()
	require.True(t, known)
	assert.InDelta(t, 60/(1+resetMargin.Seconds()), rate, 0.01, "within the first window: at most the limit over what is left of it")

	// The window ends and the next one's end comes 5 s after the first's: the window is 5 s.
	clock.Advance(time.Second + resetMargin)
	q.reserve()
	headers["X-RateLimit-Reset"] = "5000"
	q.done(answer(200, headers), false)
	rate, known = q.rate()
	require.True(t, known)
	assert.InDelta(t, 60/(5+resetMargin.Seconds()), rate, 0.01, "the limit over a window (and the margin kept at its end)")
	clock.Advance(4 * time.Second)
	rate, _ = q.rate()
	assert.InDelta(t, 60/(5+resetMargin.Seconds()), rate, 0.01, "late in the window: still the window's rate")
}
