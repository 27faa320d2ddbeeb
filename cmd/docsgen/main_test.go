package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redpanda-data/benthos/v4/public/service"
)

const checkedInDocs = "../../docs/components"

func runDocsgen(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCheckedInDocsAreCurrent(t *testing.T) {
	code, _, stderr := runDocsgen(t, "--check", "--out", checkedInDocs)
	assert.Equal(t, 0, code, stderr)
}

func TestCheckedInDocsPassLint(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join(checkedInDocs, "*", "*.md"))
	require.NoError(t, err)
	require.NotEmpty(t, pages, "no generated pages under %s", checkedInDocs)

	args := append([]string{"mimecast-connect", "lint", "--skip-env-var-check"}, pages...)
	code, err := service.RunCLIToCode(t.Context(), service.CLIOptSetArgs(args...))
	require.NoError(t, err)
	assert.Equal(t, 0, code)
}

func TestCheckFailsWhenDocsDrift(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runDocsgen(t, "--out", dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "wrote")
	assert.FileExists(t, filepath.Join(dir, "metrics", "prometheus.md"))

	code, _, stderr = runDocsgen(t, "-check", "-out", dir)
	require.Equal(t, 0, code, stderr)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "metrics", "prometheus.md"), []byte("stale\n"), 0o644))
	code, _, stderr = runDocsgen(t, "--check", "--out", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "is out of date")
	assert.Contains(t, stderr, "changed: metrics/prometheus.md")
	assert.Contains(t, stderr, "go run ./cmd/docsgen")
}

func TestRejectsUnknownArguments(t *testing.T) {
	code, _, stderr := runDocsgen(t, "--check", "docs")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "unexpected arguments")

	code, _, _ = runDocsgen(t, "--nope")
	assert.Equal(t, 2, code)
}
