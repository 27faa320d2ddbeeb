package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary stand in for cmd/benchharness in its two child modes, so that
// TestBenchHarnessRunsScenariosInChildProcesses exercises the isolated runs end to end.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && (os.Args[1] == ServeFakeArg || os.Args[1] == RunScenarioArg) {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		var err error
		if os.Args[1] == ServeFakeArg {
			err = ServeFake(ctx, os.Args[2], os.Stdout)
		} else {
			err = RunChild(ctx, os.Args[2], os.Stdout)
		}
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBenchHarnessSmall runs every scenario at the CI size, in this process, and checks that each
// delivered exactly its backlog and that the report renders every section. It checks no speed:
// these are benchmarks, and CI only proves that they run.
func TestBenchHarnessSmall(t *testing.T) {
	rep, err := Run(t.Context(), Options{Size: SizeSmall, Log: testLog{t}})
	require.NoError(t, err)
	require.Len(t, rep.Results, len(scenarios()))
	for _, res := range rep.Results {
		t.Run(res.Scenario, func(t *testing.T) {
			require.Empty(t, res.Err)
			require.NotEmpty(t, res.Phases)
			for _, ph := range res.Phases {
				assert.Equal(t, ph.Expected, ph.Events, "phase %s", ph.Name)
				assert.Zero(t, ph.Errored, "phase %s", ph.Name)
				assert.Positive(t, ph.Wall, "phase %s", ph.Name)
			}
			assert.Zero(t, res.Fake.PagesServedTwice)
			assert.Positive(t, res.PeakRSS)
		})
	}

	// The drain asks for no page beyond what the page sizes require.
	drain := rep.Result("threats_drain")
	require.NotNil(t, drain)
	for feed, events := range drain.FeedEvents {
		sources := 1
		if feed == "siem" {
			sources = len(siemTypes)
		}
		calls := 0
		for _, ep := range feedEndpoints[feed] {
			calls += drain.Fake.Calls[ep]
		}
		assert.EqualValues(t, minimumCalls(feed, events, sources), calls, "calls for %s", feed)
	}

	var md bytes.Buffer
	require.NoError(t, rep.WriteMarkdown(&md, "go test"))
	for _, section := range []string{"## 1. Threats drain", "stock `http_client`", "A backlog with real API latency", "## 2. API efficiency", "## 3. Quota", "## 4. Archive crawl", "## 5. Enrich"} {
		assert.Contains(t, md.String(), section)
	}
	assert.NotContains(t, md.String(), "## Scenarios that failed")
}

// TestBenchHarnessRunsScenariosInChildProcesses runs two scenarios the way `task bench` does:
// each in a child process, its fake in another, figures handed back as JSON.
func TestBenchHarnessRunsScenariosInChildProcesses(t *testing.T) {
	rep, err := Run(t.Context(), Options{Size: SizeSmall, Exe: os.Args[0], Only: []string{"url_threats", "enrich"}, Log: testLog{t}})
	require.NoError(t, err)
	require.Len(t, rep.Results, 2)
	for _, res := range rep.Results {
		require.Empty(t, res.Err, res.Scenario)
		assert.True(t, res.Isolated, res.Scenario)
		assert.Positive(t, res.FakeCPU, "the fake's process CPU of %s", res.Scenario)
		assert.Positive(t, res.PeakRSS, res.Scenario)
		for _, ph := range res.Phases {
			assert.Equal(t, ph.Expected, ph.Events, "%s: %s", res.Scenario, ph.Name)
		}
	}
}

// testLog shows the harness's progress lines in the test's output.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
