package componentdocs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"

	_ "github.com/mimecast-connect/mimecast-connect/metrics"
)

// testEnv registers stand-ins for the project's components in their own
// Environment, so these tests do not depend on the real plugins compiling.
func testEnv(t *testing.T) *service.Environment {
	t.Helper()
	env := service.NewEnvironment()
	input := service.NewConfigSpec().
		Beta().
		Version("0.1.0").
		Categories("Services").
		Summary("Polls a test feed.").
		Description("\nReads **records** | one per message.\n\nMetadata: `mimecast_id`.").
		Fields(
			service.NewURLField("base_url").Description("API base URL.").Default("https://api.services.mimecast.com"),
			service.NewStringField("client_id").Description("OAuth2 client ID."),
			service.NewStringField("client_secret").Description("OAuth2 client secret.").Secret(),
			service.NewDurationField("poll_interval").Description("How long to wait when caught up.").Default("60s").Examples("30s", "5m"),
			service.NewStringAnnotatedEnumField("feed", map[string]string{"siem": "SIEM batch files.", "ttp": "TTP url logs."}).Description("Which feed.").Default("siem"),
			service.NewStringEnumField("region", "eu", "us").Description("Tenant region.").Default("eu").Advanced(),
			service.NewStringField("rate_limit").Description("A rate_limit resource.").Optional().Advanced(),
			service.NewObjectListField("filters",
				service.NewStringField("expr").Description("CEL expression."),
			).Description("Drop filters.").Default([]any{}).Advanced(),
			service.NewStringField("cache").Description("A cache resource.").Optional().Example("my_cache").Advanced(),
			service.NewObjectField("tuning",
				service.NewIntField("depth").Description("How deep.").Default(2),
				service.NewStringField("note").Description("A note.").Optional(),
			).Description("Tuning.").Advanced(),
			service.NewObjectField("auth",
				service.NewStringField("user").Description("Who."),
			).Description("Credentials.").Advanced(),
		).
		Example("Basic", "Poll the SIEM feed.", `
input:
  mimecast_testsource:
    client_id: ${MIMECAST_CLIENT_ID}
    client_secret: ${MIMECAST_CLIENT_SECRET}
`)
	require.NoError(t, env.RegisterBatchInput("mimecast_testsource", input, nil))

	proc := service.NewConfigSpec().
		Summary("Enriches a test record.").
		Fields(
			service.NewInterpolatedStringField("key").Description("Lookup key.").Default(`${! json("id") }`),
			service.NewStringMapField("headers").Description("Extra headers.").Default(map[string]any{}),
		).
		Example("Enrich", "", `
pipeline:
  processors:
    - mimecast_testenrich:
        key: ${! json("url") }
`)
	require.NoError(t, env.RegisterProcessor("mimecast_testenrich", proc, nil))
	return env
}

func generateTestDocs(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := Generate(testEnv(t))
	require.NoError(t, err)
	return files
}

func TestGenerateWritesOnePagePerProjectComponent(t *testing.T) {
	files := generateTestDocs(t)

	assert.ElementsMatch(t, []string{
		"README.md",
		"inputs/mimecast_testsource.md",
		"processors/mimecast_testenrich.md",
		"metrics/prometheus.md",
	}, sortedKeys(files), "core components such as generate must not get pages")
	for path, body := range files {
		assert.True(t, strings.HasPrefix(string(body), GeneratedMarker+"\n"), path)
	}
	index := string(files["README.md"])
	assert.Contains(t, index, "| [`mimecast_testsource`](inputs/mimecast_testsource.md) | input | beta | Polls a test feed. |")
	assert.Less(t, strings.Index(index, "mimecast_testenrich"), strings.Index(index, "prometheus"), "inputs, processors, then metrics")
}

func TestInputPageDocumentsSpec(t *testing.T) {
	page := string(generateTestDocs(t)["inputs/mimecast_testsource.md"])

	for _, want := range []string{
		"\n# mimecast_testsource\n",
		"\nInput · status: **beta** · since v0.1.0 · categories: Services\n",
		"\nPolls a test feed.\n\nReads **records** | one per message.\n\nMetadata: `mimecast_id`.\n",
		// common config: required fields shown, advanced ones hidden
		"```yaml\ninput:\n  label: \"\"\n  mimecast_testsource:\n    base_url: https://api.services.mimecast.com\n    client_id: \"\" # No default (required)\n",
		"    feed: siem\n```\n\nAll fields",
		"    region: eu\n    rate_limit: \"\" # No default (optional)\n    filters: []\n    cache: \"\" # No default (optional)\n",
		"### Basic\n\nPoll the SIEM feed.\n\n```yaml\ninput:\n  mimecast_testsource:\n    client_id: ${MIMECAST_CLIENT_ID}\n",
		"### `base_url`\n\nAPI base URL.\n\n- Type: `string`\n- Default: `\"https://api.services.mimecast.com\"`\n",
		"### `client_id`\n\nOAuth2 client ID.\n\n- Type: `string`\n- Required: there is no default, so it must be set.\n",
		"### `client_secret`\n\nOAuth2 client secret.\n\n- Type: `string`\n- Required: there is no default, so it must be set.\n- Secret: holds a credential.",
		"```yml\n# Examples\n\npoll_interval: 30s\n\npoll_interval: 5m\n```\n",
		"| `siem` | SIEM batch files. |\n| `ttp` | TTP url logs. |\n",
		"- Default: `\"eu\"`\n- Advanced: not shown in the common config.\n- Options: `eu`, `us`\n",
		"### `rate_limit`\n\nA rate_limit resource.\n\n- Type: `string`\n- Optional: there is no default and it may be left out.\n",
		// an example is not shown as if it were a default
		"    cache: \"\" # No default (optional)\n",
		"### `tuning`\n\nTuning.\n\n- Type: `object`\n- Optional: every field inside has a default, so it may be left out.\n",
		"### `auth`\n\nCredentials.\n\n- Type: `object`\n- Required: there is no default, so it must be set.\n",
		"### `filters`\n\nDrop filters.\n\n- Type: `array of object`\n- Default: `[]`\n",
		"### `filters[].expr`\n\nCEL expression.\n\n- Type: `string`\n",
	} {
		assert.Contains(t, page, want)
	}
	common := page[strings.Index(page, "Common fields"):strings.Index(page, "All fields")]
	assert.NotContains(t, common, "region:", "advanced fields stay out of the common config")
	assert.NotContains(t, page, "missing documentation")
}

func TestProcessorPageConfigsAreCompletePipelines(t *testing.T) {
	page := string(generateTestDocs(t)["processors/mimecast_testenrich.md"])

	assert.Contains(t, page, "```yaml\npipeline:\n  processors:\n    - label: \"\"\n      mimecast_testenrich:\n        key: ${! json(\"id\") }\n        headers: {}\n```\n")
	assert.Contains(t, page, "- Type: `map of string`\n")
	assert.Contains(t, page, "- Interpolation: supports [interpolation functions]")
	assert.Contains(t, page, "\nProcessor · status: **experimental**\n")
}

func TestGenerateIsDeterministic(t *testing.T) {
	env := testEnv(t)
	first, err := Generate(env)
	require.NoError(t, err)
	for range 5 {
		again, err := Generate(env)
		require.NoError(t, err)
		require.Equal(t, first, again)
	}
}

func lint(t *testing.T, env *service.Environment, paths ...string) int {
	t.Helper()
	args := append([]string{"mimecast-connect", "lint", "--skip-env-var-check"}, paths...)
	code, err := service.RunCLIToCode(t.Context(), service.CLIOptSetEnvironment(env), service.CLIOptSetArgs(args...))
	require.NoError(t, err)
	return code
}

func TestGeneratedPagesPassLint(t *testing.T) {
	env := testEnv(t)
	files, err := Generate(env)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, Write(dir, files))

	var paths []string
	for _, rel := range sortedKeys(files) {
		paths = append(paths, filepath.Join(dir, rel))
	}
	assert.Equal(t, 0, lint(t, env, paths...))

	// The same lint must reject a page whose yaml block is wrong, or the
	// assertion above proves nothing.
	bad := filepath.Join(dir, "bad.md")
	require.NoError(t, os.WriteFile(bad, []byte("```yaml\ninput:\n  mimecast_testsource:\n    no_such_field: 1\n```\n"), 0o644))
	assert.Equal(t, 1, lint(t, env, bad))
}

func TestCheckReportsChangedMissingAndStalePages(t *testing.T) {
	files := generateTestDocs(t)
	dir := t.TempDir()
	require.NoError(t, Write(dir, files))

	d, err := Check(dir, files)
	require.NoError(t, err)
	assert.True(t, d.Empty(), d.String())

	require.NoError(t, os.WriteFile(filepath.Join(dir, "inputs", "mimecast_testsource.md"), []byte("edited by hand\n"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, "metrics", "prometheus.md")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "inputs", "mimecast_gone.md"), []byte(GeneratedMarker+"\n# gone\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "guide.md"), []byte("# Hand-written\n"), 0o644))

	d, err = Check(dir, files)
	require.NoError(t, err)
	assert.Equal(t, Drift{
		Changed: []string{"inputs/mimecast_testsource.md"},
		Missing: []string{"metrics/prometheus.md"},
		Stale:   []string{"inputs/mimecast_gone.md"},
	}, d)
	assert.Equal(t, "  changed: inputs/mimecast_testsource.md\n  missing: metrics/prometheus.md\n  stale: inputs/mimecast_gone.md\n", d.String())

	require.NoError(t, Write(dir, files))
	d, err = Check(dir, files)
	require.NoError(t, err)
	assert.True(t, d.Empty(), d.String())
	assert.NoFileExists(t, filepath.Join(dir, "inputs", "mimecast_gone.md"))
	assert.FileExists(t, filepath.Join(dir, "guide.md"), "pages without the marker are not ours to delete")
}

func TestCheckTreatsMissingDirectoryAsAllMissing(t *testing.T) {
	files := generateTestDocs(t)
	d, err := Check(filepath.Join(t.TempDir(), "nope"), files)
	require.NoError(t, err)
	assert.Equal(t, sortedKeys(files), d.Missing)
	assert.Empty(t, d.Changed)
	assert.Empty(t, d.Stale)
}
