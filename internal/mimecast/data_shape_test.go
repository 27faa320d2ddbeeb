package mimecast

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The page helpers find boundaries instead of decoding; these hold them to what decoding with
// encoding/json gives.

// decodedElements is what json.Unmarshal makes of raw as a list of raw elements.
func decodedElements(raw []byte) ([]json.RawMessage, error) {
	var elems []json.RawMessage
	err := json.Unmarshal(raw, &elems)
	return elems, err
}

var dataShapeCases = []string{
	`[]`, ` [ ] `, `[1, "two", {"three":[3,{"x":"]}"}]}, null, true, -1.5e3, "\"esc\\\\"]`,
	`[{"clickLogs":[{"a":1},{"b":"}\"]"}]}]`, "[\n{\"a\" : 1}\t,\r\n{}\n]",
	`{"data":[1],"DATA":[2]}`, `{"Data":[2]}`, `{"d\u0061ta":[3],"x":{"data":[4]}}`, `{"data":1,"data":2}`,
	`[1,]`, `[1`, `{"data":`, `null`, `"str"`, `{}`, ``,
}

func TestSplitArrayMatchesDecoding(t *testing.T) {
	for _, in := range dataShapeCases {
		checkSplitArray(t, []byte(in))
	}
}

func TestObjectMemberMatchesDecoding(t *testing.T) {
	for _, in := range dataShapeCases {
		checkObjectMember(t, []byte(in), "data")
	}
}

func TestSplitElementsCannotGrowIntoTheirNeighbours(t *testing.T) {
	elems, err := splitArray(json.RawMessage(`[{"a":1},{"b":2}]`))
	require.NoError(t, err)
	require.Len(t, elems, 2)
	_ = append(elems[0], `XXXXXXXX`...)
	assert.JSONEq(t, `{"b":2}`, string(elems[1]))
}

func checkSplitArray(t *testing.T, raw []byte) {
	t.Helper()
	got, err := splitArray(raw)
	trimmed := bytes.TrimSpace(raw)
	switch {
	case len(trimmed) == 0 || string(trimmed) == "null":
		assert.NoError(t, err, "%q", raw)
		assert.Empty(t, got, "%q", raw)
	case trimmed[0] != '[':
		assert.Error(t, err, "%q", raw)
	default:
		want, wantErr := decodedElements(trimmed)
		if wantErr != nil {
			assert.Error(t, err, "%q", raw)
			return
		}
		require.NoError(t, err, "%q", raw)
		require.Len(t, got, len(want), "%q", raw)
		for i := range want {
			assert.Equal(t, string(want[i]), string(got[i]), "element %d of %q", i, raw)
		}
	}
}

func checkObjectMember(t *testing.T, raw []byte, key string) {
	t.Helper()
	got, ok := objectMember(raw, key)
	trimmed := bytes.TrimSpace(raw)
	var m map[string]json.RawMessage
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &m) != nil {
		assert.False(t, ok, "%q", raw)
		return
	}
	if want, exact := m[key]; exact {
		require.True(t, ok, "%q", raw)
		assert.Equal(t, string(want), string(got), "%q", raw)
		return
	}
	// Without an exact name decoding picks any case-insensitive one (map order).
	var candidates []string
	for k, v := range m {
		if strings.EqualFold(k, key) {
			candidates = append(candidates, string(v))
		}
	}
	assert.Equal(t, len(candidates) > 0, ok, "%q", raw)
	if ok {
		assert.Contains(t, candidates, string(got), "%q", raw)
	}
}

func FuzzDataShapeMatchesDecoding(f *testing.F) {
	for _, in := range dataShapeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkSplitArray(t, raw)
		checkObjectMember(t, raw, "data")
		_, _ = wrappedList(raw, false, "clickLogs") // must not panic
		_, _ = flatOrWrappedList(raw, false, "items")
		_ = wrapperInt(raw, false, "resultCount")
	})
}
