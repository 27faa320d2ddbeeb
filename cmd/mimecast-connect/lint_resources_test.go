package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lint resolves the resources Mimecast components name across every file it lints, the
// arguments and -r alike, and refuses a name none of them defines, at the line that names it.
func TestLintResolvesNamedResourcesAcrossTheLintedFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		return path
	}
	pipeline := write("pipeline.yaml", badConfigBase+`input:
  mimecast_threats:
    client_id: abc
    client_secret: x
    api_url: http://127.0.0.1:9
    checkpoint_cache: state
    rate_limit: quota
pipeline:
  processors:
    - mimecast_enrich:
        client_id: abc
        client_secret: x
        api_url: http://127.0.0.1:9
        cache: lookups
output:
  drop: {}
`)
	caches := write("caches.yaml", "cache_resources:\n  - label: state\n    file:\n      directory: /tmp/state\n  - label: lookups\n    memory: {}\n")
	limits := write("limits.yaml", "rate_limit_resources:\n  - label: quota\n    local:\n      count: 10\n      interval: 1s\n")
	cases := []struct {
		name string
		args []string
		want []string // the lint lines; none: lint passes
	}{
		{"every resource in a -r file", []string{"-r", caches, "-r", limits, pipeline}, nil},
		{"resource files as arguments", []string{pipeline, caches, limits}, nil},
		{"resource files by glob", []string{filepath.Join(dir, "*.yaml")}, nil},
		{"a directory walked with ...", []string{dir + "/..."}, nil},
		{"no rate limit file", []string{"-r", caches, pipeline}, []string{
			`pipeline.yaml(11,1) rate_limit: rate_limit resource "quota" is not defined: add it under rate_limit_resources or pass its file with -r`,
		}},
		{"no resource file", []string{pipeline}, []string{
			`pipeline.yaml(10,1) checkpoint_cache: cache resource "state" is not defined: add it under cache_resources or pass its file with -r`,
			`pipeline.yaml(11,1) rate_limit: rate_limit resource "quota" is not defined: add it under rate_limit_resources or pass its file with -r`,
			`pipeline.yaml(18,1) cache: cache resource "lookups" is not defined: add it under cache_resources or pass its file with -r`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runCLIWithin(t, 10*time.Second, append([]string{"lint"}, tc.args...)...)
			out = strings.ReplaceAll(out, dir+string(filepath.Separator), "")
			if tc.want == nil {
				assert.Equal(t, 0, code, out)
				return
			}
			assert.Equal(t, 1, code, out)
			assert.Equal(t, strings.Join(tc.want, "\n"), strings.TrimSpace(out))
		})
	}
}
