package mimecast

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// canonicalCases are inputs where a one-pass canonicaliser could drift from the definition:
// escapes, non-ASCII and invalid UTF-8, the characters encoding/json escapes, repeated keys, key
// order by bytes, numbers as written, nesting, and input that is not one JSON value.
var canonicalCases = []string{
	`{"b":1,"a":{"y":"<x>","x":[1,2.50]}}`,
	" {\n \"a\" : {\"x\":[1, 2.50],\"y\":\"\\u003cx\\u003e\"},\"b\":1 }\n",
	`{"url":"https:\/\/a.example\/p?q=1&r=2","s":"tab\there","n":"line\nbreak"}`,
	`{"é":"café","e":"\u00e9","z":"\u2028\u2029","bad":"\ud800","emoji":"\ud83d\udcce"}`,
	"{\"raw\":\"\xff\xfe\",\"ok\":\"x\"}",
	"{\"ctl\":\"\x7f\"}",
	`{"a":1,"a":2,"b":{"c":1,"c":{"d":[]}}}`,
	`{"B":1,"a":2,"_":3,"A":4,"aa":5,"a\u0000":6}`,
	`{"n":[0,-0,1E5,1e-5,1.50,-12.0e+3,123456789012345678901234567890]}`,
	`[{"b":1,"a":2},[],{},[[{"z":null,"y":true,"x":false}]]]`,
	`"just a string"`, `12.50`, `true`, `null`, `{}`, `[]`,
	`{"a":1} {"b":2}`, `{"a":1} garbage`, `{"truncated":`, ``, `   `, `not json`,
	`{"a":"\"quoted\" and \\ backslash","b":"\/"}`,
	`{"k\u00e9y":"\ud83d\ude00 \u2028 \u007f \b\f\u0001\u001f","k\u00c9y":1,"\ud800\u0041":"\udc00x"}`,
	"{\"del\":\"\x7f\",\"mixed\":\"caf\xc3\xa9 \\u00e9 \xe2\x80\xa8\"}",
	`["\uD83D\uDE00","\uDE00\uD83D","\u0000"]`,
}

func TestCanonicalJSONMatchesDecoding(t *testing.T) {
	for _, in := range canonicalCases {
		assert.Equal(t, string(canonicalJSONByDecoding([]byte(in))), string(canonicalJSON([]byte(in))), "input %q", in)
	}
}

func TestCanonicalJSONMatchesDecodingOnRecordFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.Equal(t, string(canonicalJSONByDecoding(raw)), string(canonicalJSON(raw)), f)
	}
}

func TestCanonicalJSONDeepNestingTakesTheDecodingPath(t *testing.T) {
	deep := make([]byte, 0, 4*maxCanonicalDepth)
	for range maxCanonicalDepth + 5 {
		deep = append(deep, `{"a":`...)
	}
	deep = append(deep, '1')
	for range maxCanonicalDepth + 5 {
		deep = append(deep, '}')
	}
	assert.Equal(t, string(canonicalJSONByDecoding(deep)), string(canonicalJSON(deep)))
}

func FuzzCanonicalJSONMatchesDecoding(f *testing.F) {
	for _, in := range canonicalCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		want, got := canonicalJSONByDecoding(raw), canonicalJSON(raw)
		if string(want) != string(got) {
			t.Fatalf("canonical form of %q:\n got %q\nwant %q", raw, got, want)
		}
	})
}
