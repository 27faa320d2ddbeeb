package mimecast

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TextList decodes what coerce made of a []string field, without coerce's slow path.
func TestTextListAcceptsOneValueOrAListOfAnyScalars(t *testing.T) {
	cases := []struct {
		in   string
		want TextList
	}{
		{`"malware"`, TextList{"malware"}},
		{`["malware","phishing"]`, TextList{"malware", "phishing"}},
		{`null`, nil},
		{`[]`, TextList{}},
		{`[1.50,true,null,"x",{"b":1,"a":2}]`, TextList{"1.50", "true", "", "x", `{"a":2,"b":1}`}},
		{`12`, TextList{"12"}},
		{`{"k":"v"}`, TextList{`{"k":"v"}`}},
	}
	for _, tc := range cases {
		var got TextList
		require.NoError(t, json.Unmarshal([]byte(tc.in), &got), tc.in)
		assert.Equal(t, tc.want, got, tc.in)

		// The same field through coerce, as a []string field decoded before.
		var viaCoerce struct {
			L []string `json:"l"`
		}
		require.NoError(t, decodeTolerant([]byte(`{"l":`+tc.in+`}`), &viaCoerce), tc.in)
		assert.Equal(t, []string(tc.want), viaCoerce.L, tc.in)
	}
}
