package main

import (
	"os"
	"path/filepath"
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
