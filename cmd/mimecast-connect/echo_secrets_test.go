package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every component's client_secret is scrubbed by echo (TestEchoScrubsTheClientSecret covers
// mimecast_threats alone), and lint's errors about a config do not repeat it.
func TestEchoAndLintNeverPrintAnyComponentsSecret(t *testing.T) {
	secrets := []string{"threats-secret-4b1f9", "archive-secret-77d0e", "enrich-secret-c3a52"}
	path := filepath.Join(t.TempDir(), "p.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`input:
  broker:
    inputs:
      - mimecast_threats:
          client_id: abc
          client_secret: `+secrets[0]+`
      - mimecast_archive:
          client_id: abc
          client_secret: `+secrets[1]+`
pipeline:
  processors:
    - mimecast_enrich:
        client_id: abc
        client_secret: `+secrets[2]+`
output:
  drop: {}
`), 0o600))
	code, out := runCLI(t, "echo", path)
	require.Equal(t, 0, code, out)
	for _, s := range secrets {
		assert.NotContains(t, out, s)
	}
	assert.Contains(t, out, "!!!SECRET_SCRUBBED!!!")

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`input:
  mimecast_threats:
    client_id: abc
    client_secret: `+secrets[0]+`
    feeds: [nope]
    page_size: 0
output:
  drop: {}
`), 0o600))
	code, out = runCLI(t, "lint", bad)
	assert.Equal(t, 1, code, out)
	assert.NotContains(t, out, secrets[0])
}
