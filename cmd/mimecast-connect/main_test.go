package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runCLI runs the binary's CLI in-process and returns its exit code and what it printed on
// stdout and stderr. Not parallel: it swaps os.Stdout and os.Stderr.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	out := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, r)
		out <- b.String()
	}()
	code, runErr := service.RunCLIToCode(t.Context(), append(cliOptions(), service.CLIOptSetArgs(append([]string{"mimecast-connect"}, args...)...))...)
	os.Stdout, os.Stderr = stdout, stderr
	require.NoError(t, w.Close())
	printed := <-out
	if runErr != nil {
		printed += runErr.Error()
	}
	return code, printed
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
