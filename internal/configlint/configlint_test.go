package configlint

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEmptyFieldLeavesEmptyValuesToStartUp(t *testing.T) {
	conf := map[string]any{"client_id": "", "overlap": "-5m", "filters": []any{map[string]any{"expression": ""}}}
	cases := []struct {
		msg  string
		want bool
	}{
		{"client_id: must not be empty", true},
		{"overlap: -5m0s is negative", false},
		{"filters[0].expression: empty", false}, // the list is not empty: the error stands
		{"no field named here", false},
		{"unknown: value", false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, emptyField(conf, tc.msg), tc.msg)
	}
}

func TestUnresolvedFindsEnvironmentReferencesAtAnyDepth(t *testing.T) {
	assert.True(t, unresolved(map[string]any{"a": []any{map[string]any{"b": "x${Y}"}}}))
	assert.False(t, unresolved(map[string]any{"a": []any{"$", "{}", 3}}))
}
