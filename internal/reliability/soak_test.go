package reliability

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// The 10-minute soak is `go run ./cmd/soak`; this is a 20-second one. A short run is noisier
// (the backlog's garbage is still being returned to the OS), so it allows 50% growth: a leak
// per fault or per poll still shows, since faults come every second.
func TestDemoSoakUnderFaultsStaysFlatAndLosesNothing(t *testing.T) {
	t.Parallel()
	rep, err := RunSoak(t.Context(), SoakOptions{
		Binary: testBinary(t), Dir: t.TempDir(), Seed: 5,
		Duration: 20 * time.Second, WarmUp: 5 * time.Second, SampleEvery: 500 * time.Millisecond,
		FaultEvery: time.Second, Drain: 40 * time.Second, Tolerance: 0.5, Backlog: 200,
		// Short enough that a SIEM file fault, held until a listing takes it, holds a few seconds.
		SIEMBatchWindow: 5 * time.Second,
		Log:             testLog{t},
	})
	require.NoError(t, err)
	t.Log(rep)
	require.NoError(t, rep.Check())
	assert.Positive(t, rep.Events)
	assert.GreaterOrEqual(t, len(rep.Faults), 3, "several kinds of fault were injected")
}

func TestSoakReportJudgesGrowthAfterTheWarmUp(t *testing.T) {
	samples := func(rss ...float64) []SoakSample {
		out := make([]SoakSample, len(rss))
		for i, v := range rss {
			out[i] = SoakSample{At: time.Duration(i) * time.Second, RSSBytes: v, Goroutines: 50}
		}
		return out
	}
	flat := SoakReport{WarmUp: 2 * time.Second, Tolerance: 0.2,
		// The warm-up's peak (500) is not judged; after it, memory is flat.
		Samples: samples(500, 500, 100, 105, 98, 102, 101, 99, 103, 100, 104)}
	require.NoError(t, flat.Check())
	assert.InDelta(t, 0, flat.RSS().Growth(), 0.05)

	leak := flat
	leak.Samples = samples(100, 100, 100, 110, 120, 130, 140, 150, 160, 170, 180)
	assert.ErrorContains(t, leak.Check(), "resident memory grew")

	goroutines := flat
	goroutines.Samples = samples(100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100)
	for i := range goroutines.Samples {
		goroutines.Samples[i].Goroutines = float64(50 + 10*i)
	}
	assert.ErrorContains(t, goroutines.Check(), "goroutines grew")

	short := flat
	short.Samples = samples(100, 100, 100, 100)
	assert.ErrorContains(t, short.Check(), "too few")

	lost := flat
	lost.Lost = 1
	assert.ErrorContains(t, lost.Check(), "lost")
}

func TestCountedDownSeesAFaultThatFired(t *testing.T) {
	set := mimecastfake.Faults{RateLimitBurst: 3, RateLimitResetMs: 1000}
	assert.False(t, countedDown(set, set))
	assert.True(t, countedDown(set, mimecastfake.Faults{RateLimitBurst: 2, RateLimitResetMs: 1000}))
	assert.False(t, countedDown(mimecastfake.Faults{ServerErrorFor: time.Second}, mimecastfake.Faults{}), "an outage window does not count down")
}

func TestFaultDeckDealsEveryKindOnceARound(t *testing.T) {
	d := &faultDeck{rng: rand.New(rand.NewPCG(1, 2))}
	for round := range 3 {
		seen := map[string]int{}
		for range soakFaults {
			seen[d.next().name]++
		}
		assert.Len(t, seen, len(soakFaults), "round %d", round)
	}
}

func TestSIEMFileFaultsAreHeldForTwoBatchWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	holds := map[time.Duration][]string{}
	for _, f := range soakFaults {
		d := faultHold(f.pick(rng), 20*time.Second, 10*time.Second)
		holds[d] = append(holds[d], f.name)
	}
	assert.ElementsMatch(t, []string{"truncated gzip", "malformed JSON line", "same URL twice", "expired download URL"}, holds[50*time.Second])
	assert.Equal(t, []string{"5xx outage"}, holds[0], "an outage does not count down: nothing to wait for")
	assert.Len(t, holds[10*time.Second], len(soakFaults)-5)
	assert.Equal(t, 2*time.Second, faultHold(mimecastfake.Faults{ServerErrors: 1}, 20*time.Second, time.Second),
		"faults every second are held two seconds at most")
}

func TestSoakReportNamesFaultsNeverTaken(t *testing.T) {
	var r SoakReport
	r.Faults = map[string]int{"truncated gzip": 2, "5xx": 3}
	r.FaultsFired = map[string]int{"5xx": 3}
	assert.Equal(t, []string{"truncated gzip"}, r.NotTaken())
	assert.Len(t, r.NotInjected(), len(soakFaults)-2)
	out := r.String()
	assert.Contains(t, out, "injected but never taken, so not exercised: truncated gzip")
	assert.Contains(t, out, "never injected")

	for _, f := range soakFaults {
		r.Faults[f.name], r.FaultsFired[f.name] = 1, 1
	}
	assert.Empty(t, r.NotTaken())
	assert.Empty(t, r.NotInjected())
	assert.NotContains(t, r.String(), "WARNING")
}

func TestScrapeReadsTheProcessAndGoGauges(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 42\n"+
			"go_memstats_heap_inuse_bytes 1.5e+07\nprocess_resident_memory_bytes 5.24288e+07\n"+
			"go_goroutines_total_other 7\n")
	}))
	defer srv.Close()
	s, err := scrapeMetrics(t.Context(), srv.Client(), srv.URL)
	require.NoError(t, err)
	assert.Equal(t, SoakSample{Goroutines: 42, HeapBytes: 1.5e7, RSSBytes: 52428800}, s)

	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "input_received 3\n")
	}))
	defer bare.Close()
	_, err = scrapeMetrics(t.Context(), bare.Client(), bare.URL)
	assert.ErrorContains(t, err, "add_process_metrics")
}
