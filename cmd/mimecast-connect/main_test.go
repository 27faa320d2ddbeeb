package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runCLI runs the binary's CLI in-process and returns its exit code and what it printed on
// stdout and stderr. Not parallel: it swaps os.Stdout and os.Stderr.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runCLIWithin(t, 30*time.Second, args...)
}

func TestListShowsTheMimecastComponents(t *testing.T) {
	code, out := runCLI(t, "list", "inputs", "processors")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "mimecast_threats")
	assert.Contains(t, out, "file", "core io components are built in")
}

func TestEchoScrubsTheClientSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`input:
  mimecast_threats:
    client_id: abc
    client_secret: hunter2-very-secret
output:
  drop: {}
`), 0o600))
	code, out := runCLI(t, "echo", path)
	require.Equal(t, 0, code, out)
	assert.NotContains(t, out, "hunter2-very-secret")
	assert.Contains(t, out, "client_id: abc")
}

func TestLintFailsOnAnUnknownFeedNamingIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`input:
  mimecast_threats:
    client_id: abc
    client_secret: x
    feeds: [phishy]
output:
  drop: {}
`), 0o600))
	code, out := runCLI(t, "lint", path)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "unknown feed phishy")
}

func TestExamplePipelinesLint(t *testing.T) {
	code, out := runCLI(t, "lint", "../../config/...", "../../resources/...")
	assert.Equal(t, 0, code, out)
}

func TestVersionComesFromTheBuildWhenNotStamped(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}
	cases := []struct {
		name, version, date string
		info                *debug.BuildInfo
		wantV, wantD        string
	}{
		{"stamped with -ldflags", "1.4.0", "2026-11-30", &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}}, "1.4.0", "2026-11-30"},
		{"go install of a release", "0.0.0-dev", "unknown", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "1.2.3", "unknown"},
		{"go build in a clone", "0.0.0-dev", "unknown", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "0.0.0-dev+0123456789ab.dirty", "2026-12-01T10:00:00Z"},
		{"nothing recorded", "0.0.0-dev", "unknown", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "0.0.0-dev", "unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, d := versionFrom(tc.version, tc.date, tc.info, true)
			assert.Equal(t, tc.wantV, v)
			assert.Equal(t, tc.wantD, d)
		})
	}
}
