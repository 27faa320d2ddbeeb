package mimecastfake

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Kinds of a shape spec: JSON types, plus "time" (a string in the /api/* response layout
// 2006-01-02T15:04:05-0700), "rfc3339ms" (2006-01-02T15:04:05.000Z), "msgid" (<...@...>) and
// "?string" (string or null).
type shape map[string]string

var messageIDRe = regexp.MustCompile(`^<[^<>@\s]+@[^<>@\s]+>$`)

// requireShape asserts that rec has every key of spec with the kind it names.
func requireShape(t *testing.T, rec any, spec shape) map[string]any {
	t.Helper()
	m, ok := rec.(map[string]any)
	require.True(t, ok, "record is an object: %v", rec)
	for key, kind := range spec {
		v, present := m[key]
		require.True(t, present, "key %q missing in %v", key, m)
		switch kind {
		case "string":
			assert.IsType(t, "", v, key)
		case "?string":
			if v != nil {
				assert.IsType(t, "", v, key)
			}
		case "number":
			assert.IsType(t, json.Number(""), v, key)
		case "bool":
			assert.IsType(t, true, v, key)
		case "array":
			assert.IsType(t, []any{}, v, key)
		case "object":
			assert.IsType(t, map[string]any{}, v, key)
		case "time":
			s, _ := v.(string)
			_, err := time.Parse("2006-01-02T15:04:05-0700", s)
			assert.NoError(t, err, "%s = %q is in the -0700 layout", key, s)
		case "rfc3339ms":
			s, _ := v.(string)
			_, err := time.Parse("2006-01-02T15:04:05.000Z", s)
			assert.NoError(t, err, "%s = %q has millis and Z", key, s)
		case "msgid":
			s, _ := v.(string)
			assert.Regexp(t, messageIDRe, s, key)
		default:
			t.Fatalf("unknown kind %q", kind)
		}
	}
	return m
}

// requireEnvelope asserts the /api/* response envelope and returns data.
func requireEnvelope(t *testing.T, body map[string]any, paged bool) []any {
	t.Helper()
	meta := requireShape(t, body["meta"], shape{"status": "number"})
	assert.Equal(t, 200, asInt(t, meta["status"]))
	require.Equal(t, []any{}, body["fail"], "fail is an empty list on success")
	data, ok := body["data"].([]any)
	require.True(t, ok, "data is a list")
	if paged {
		p := requireShape(t, meta["pagination"], shape{"pageSize": "number", "totalCount": "number"})
		if next, has := p["next"]; has {
			assert.IsType(t, "", next)
		}
	}
	return data
}
