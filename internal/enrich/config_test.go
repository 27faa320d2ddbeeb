package enrich

import (
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const minimalConn = "client_id: id\nclient_secret: secret\napi_url: http://127.0.0.1:1\n"

func parseEnrich(t *testing.T, yaml string) (*enrichConfig, error) {
	t.Helper()
	conf, err := Spec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	cfg, err := enrichConfigFromParsed(conf, service.MockResources(service.MockResourcesOptAddCache(testCache)))
	if cfg != nil {
		t.Cleanup(cfg.conn.Close)
	}
	return cfg, err
}

func TestEnrichConfigDefaults(t *testing.T) {
	cfg, err := parseEnrich(t, minimalConn)
	require.NoError(t, err)

	assert.Equal(t, lookupSet{tracking: true, messageInfo: true}, cfg.lookups)
	assert.Equal(t, 720*time.Hour, cfg.searchWindow)
	assert.Equal(t, []string{"mimecast"}, cfg.targetPath)
	assert.Empty(t, cfg.cacheName)
	assert.Nil(t, cfg.cacheTTL)
	assert.Equal(t, 4, cfg.maxConcurrency)
	assert.Equal(t, onForbiddenSkip, cfg.onForbidden)

	m := service.NewMessage(nil)
	m.MetaSetMut("mimecast_message_id", "<a@b>")
	id, err := cfg.messageID.TryString(m)
	require.NoError(t, err)
	assert.Equal(t, "<a@b>", id)
}

func TestEnrichConfigReadsEveryField(t *testing.T) {
	cfg, err := parseEnrich(t, minimalConn+`
message_id: ${! json("MsgId") }
lookups: [content, tracking]
search_window: 48h
target_field: enrichment.mimecast
cache: lookups
cache_ttl: 10m
max_concurrency: 8
on_forbidden: fail
`)
	require.NoError(t, err)
	assert.Equal(t, lookupSet{tracking: true, content: true}, cfg.lookups)
	assert.Equal(t, "tracking,content", cfg.lookups.String())
	assert.Equal(t, 48*time.Hour, cfg.searchWindow)
	assert.Equal(t, []string{"enrichment", "mimecast"}, cfg.targetPath)
	assert.Equal(t, testCache, cfg.cacheName)
	require.NotNil(t, cfg.cacheTTL)
	assert.Equal(t, 10*time.Minute, *cfg.cacheTTL)
	assert.Equal(t, 8, cfg.maxConcurrency)
	assert.Equal(t, onForbiddenFail, cfg.onForbidden)
}

// An empty cache_ttl, as the docs' config blocks show it, is the cache's own default.
func TestEnrichConfigEmptyCacheTTLIsTheCachesDefault(t *testing.T) {
	for _, conf := range []string{"cache: lookups\ncache_ttl: \"\"\n", "cache_ttl: \"\"\n"} {
		cfg, err := parseEnrich(t, minimalConn+conf)
		require.NoError(t, err, conf)
		assert.Nil(t, cfg.cacheTTL, conf)
	}
}

func TestEnrichConfigRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown lookup", "lookups: [tracking, verdict]", `unknown lookup "verdict"`},
		{"no lookups", "lookups: []", "lookups: empty"},
		{"window past Message Finder's limit", "search_window: 800h", "search_window: 800h0m0s is out of range"},
		{"zero window", "search_window: 0s", "search_window"},
		{"empty path segment", "target_field: a..b", `target_field: "a..b" has an empty segment`},
		{"undefined cache", "cache: nope", `cache resource "nope" is not defined`},
		{"ttl without cache", "cache_ttl: 1m", "cache_ttl is set without cache"},
		{"zero ttl", "cache: lookups\ncache_ttl: 0s", "cache_ttl: 0s is not positive"},
		{"no concurrency", "max_concurrency: 0", "max_concurrency: 0 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseEnrich(t, minimalConn+tc.yaml+"\n")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestEnrichLintRejectsBadFieldsBeforeTheRun(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown lookup", "lookups: [verdict]", "unknown lookup verdict"},
		{"long window", "search_window: 1000h", "search_window must be a positive duration of at most 720h"},
		{"bad ttl", "cache_ttl: soon", "cache_ttl must be a positive duration"},
		{"concurrency", "max_concurrency: 0", "max_concurrency must be between 1 and 64"},
		{"on_forbidden", "on_forbidden: ignore", "ignore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := service.NewStreamBuilder()
			err := b.AddProcessorYAML("mimecast_enrich:\n" + indent(minimalConn+tc.yaml+"\n"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

func TestNormalizeMessageID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"<a@b.example>", "<a@b.example>", true},
		{"a@b.example", "<a@b.example>", true},
		{"  <a@b.example>\n", "<a@b.example>", true},
		{"", "", false},
		{"   ", "", false},
		{"null", "", false}, // what ${! meta("missing") } interpolates to
		{"<>", "", false},
	} {
		got, ok := normalizeMessageID(tc.in)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestSetAtPathCreatesObjectsAndRefusesNonObjects(t *testing.T) {
	body := map[string]any{"a": map[string]any{"keep": 1}, "s": "text"}
	require.NoError(t, setAtPath(body, []string{"a", "b", "c"}, 1))
	assert.Equal(t, map[string]any{"keep": 1, "b": map[string]any{"c": 1}}, body["a"])

	err := setAtPath(body, []string{"s", "x"}, 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"s" is a JSON string, not an object`)

	err = setAtPath([]any{1}, []string{"x"}, 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the message body is a JSON array")
}
