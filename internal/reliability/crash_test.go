package reliability

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The full-size runs (100,000 events, 10 kills; 50 mailboxes) are `go run ./cmd/crashtest`;
// these are the same tests at a size CI runs in seconds.

func TestThreatsSurviveSIGKILLWithNothingLostAndReplaysWithinTheBound(t *testing.T) {
	t.Parallel()
	rep, err := RunThreatsCrash(t.Context(), CrashOptions{
		Binary: testBinary(t), Dir: t.TempDir(), Seed: 7, Kills: 4,
		Timeout: 50 * time.Second, Stall: 20 * time.Second, Log: testLog{t},
	}, ThreatsCrash{Events: 10_000})
	require.NoError(t, err)
	t.Log(rep)
	require.NoError(t, rep.Check())
	assert.Equal(t, 4, rep.Kills)
	assert.Equal(t, 10_000, rep.Events)
	for _, run := range rep.Runs {
		assert.Zero(t, run.CheckpointResets, "run %d could not read a checkpoint a kill left behind", run.Run)
	}
}

func TestArchiveCrawlSurvivesSIGKILLWithNothingLostAndReplaysWithinTheBound(t *testing.T) {
	t.Parallel()
	rep, err := RunArchiveCrash(t.Context(), CrashOptions{
		Binary: testBinary(t), Dir: t.TempDir(), Seed: 7, Kills: 3,
		Timeout: 50 * time.Second, Stall: 20 * time.Second, Log: testLog{t},
	}, ArchiveCrash{Mailboxes: 50, MessagesPerMailbox: 8})
	require.NoError(t, err)
	t.Log(rep)
	require.NoError(t, rep.Check())
	assert.Equal(t, 3, rep.Kills)
	assert.Equal(t, 400, rep.Events)
	for _, run := range rep.Runs {
		assert.Zero(t, run.CheckpointResets, "run %d could not read a checkpoint a kill left behind", run.Run)
	}
}

// The harness must see a loss when there is one: here the pipeline drops every event whose
// id ends in 0.
func TestCrashHarnessCatchesAPipelineThatDropsEvents(t *testing.T) {
	t.Parallel()
	rep, err := RunThreatsCrash(t.Context(), CrashOptions{
		Binary: testBinary(t), Dir: t.TempDir(), Seed: 3, Kills: 1,
		Timeout: 40 * time.Second, Stall: 4 * time.Second, Log: testLog{t},
	}, ThreatsCrash{Events: 2_000, mapping: `root = if @mimecast_event_id.has_suffix("0") { deleted() } else { {"feed": @mimecast_feed, "id": @mimecast_event_id} }`})
	require.Error(t, err, "the last run never gets every event, so it must stall")
	assert.Contains(t, err.Error(), "no new output for")
	require.NotNil(t, rep)
	assert.Positive(t, rep.Lost)
	assert.ErrorContains(t, rep.Check(), "events lost")
}

func TestKillTargetsAreSeededSpreadAndApart(t *testing.T) {
	a := killTargets(1, 10, 100_000)
	assert.Equal(t, a, killTargets(1, 10, 100_000), "same seed, same moments")
	assert.NotEqual(t, a, killTargets(2, 10, 100_000))
	require.Len(t, a, 10)
	assert.IsIncreasing(t, a)
	assert.GreaterOrEqual(t, a[0], 3_000)
	assert.Less(t, a[9], 97_000)
	for i := 1; i < len(a); i++ {
		assert.GreaterOrEqual(t, a[i]-a[i-1], 1_000, "kills at least 1%% apart")
	}
}

func TestCrashReportFailsOnLossRepeatsAndReplaysOverTheBound(t *testing.T) {
	ok := CrashReport{Events: 100, BoundPerKill: 10, Runs: []RunFigures{{Run: 0, New: 60}, {Run: 1, New: 40, Replayed: 10}}}
	require.NoError(t, ok.Check())
	assert.Equal(t, 10, ok.Duplicates())

	for name, mutate := range map[string]func(r *CrashReport){
		"lost":              func(r *CrashReport) { r.Lost = 1 },
		"over the bound":    func(r *CrashReport) { r.Runs[1].Replayed = 11 },
		"repeated in a run": func(r *CrashReport) { r.Runs[0].RepeatedInRun = 1 },
		"unknown event":     func(r *CrashReport) { r.Runs[1].Unknown = 1 },
	} {
		t.Run(name, func(t *testing.T) {
			r := ok
			r.Runs = append([]RunFigures(nil), ok.Runs...)
			mutate(&r)
			assert.Error(t, r.Check())
		})
	}
}
