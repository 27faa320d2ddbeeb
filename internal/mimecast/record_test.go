package mimecast

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestContentHashIgnoresKeyOrderAndWhitespace(t *testing.T) {
	a := ContentHash([]byte(`{"b":1,"a":{"y":"<x>","x":[1,2.50]}}`))
	b := ContentHash([]byte(" {\n \"a\" : {\"x\":[1, 2.50],\"y\":\"\\u003cx\\u003e\"},\"b\":1 }\n"))
	assert.Equal(t, a, b)
	assert.Len(t, a, 64)
	assert.NotEqual(t, a, ContentHash([]byte(`{"b":2,"a":{"y":"<x>","x":[1,2.50]}}`)))
}

func TestContentHashOfNonJSONIsHashOfBytes(t *testing.T) {
	raw := []byte(`{"truncated":`)
	sum := sha256.Sum256(raw)
	assert.Equal(t, hex.EncodeToString(sum[:]), ContentHash(raw))
	two := []byte(`{"a":1} {"b":2}`)
	sum = sha256.Sum256(two)
	assert.Equal(t, hex.EncodeToString(sum[:]), ContentHash(two), "two values are not one record")
}

func TestIDIsMimecastIDWhenPresentElseContentHash(t *testing.T) {
	withID := decodeRecord[ImpersonationLog]([]byte(`{"id":"MTOKEN:1","subject":"x"}`))
	assert.Equal(t, "MTOKEN:1", withID.ID())

	noID := decodeRecord[ImpersonationLog]([]byte(`{"subject":"x"}`))
	assert.Equal(t, ContentHash([]byte(`{"subject":"x"}`)), noID.ID())

	click := decodeRecord[URLClick]([]byte(`{"url":"https://a.example/","id":"ignored"}`))
	assert.Equal(t, ContentHash(click.Raw), click.ID(), "click logs are identified by content only")
}

func TestBadRecordKeepsRawAndError(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{"not an object", `"just a string"`},
		{"null", `null`},
		{"list", `[1,2]`},
		{"broken JSON", `{"url":`},
		{"bad time", `{"url":"https://a.example/","date":"someday"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := decodeRecord[URLClick]([]byte(tt.raw))
			require.Error(t, rec.DecodeErr())
			assert.Equal(t, tt.raw, string(rec.RawJSON()))
			assert.Empty(t, rec.URL, "a bad record has no decoded fields")
			assert.Equal(t, ContentHash([]byte(tt.raw)), rec.ID())
		})
	}
}

type coerceTarget struct {
	S     string            `json:"s"`
	N     int               `json:"n"`
	U     uint8             `json:"u"`
	F     float64           `json:"f"`
	B     bool              `json:"b"`
	L     []string          `json:"l"`
	M     map[string]int    `json:"m"`
	Inner struct{ X int }   `json:"inner"`
	Addr  Address           `json:"addr"`
	Addrs []Address         `json:"addrs"`
	Raw   json.RawMessage   `json:"raw"`
	Any   any               `json:"any"`
	Ptr   *int              `json:"ptr"`
	Deep  map[string][]bool `json:"deep"`
}

func TestTolerantDecodeBendsValuesTowardsFieldTypes(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, v coerceTarget)
	}{
		{"number into string", `{"s":12.50}`, func(t *testing.T, v coerceTarget) { assert.Equal(t, "12.50", v.S) }},
		{"bool into string", `{"s":true}`, func(t *testing.T, v coerceTarget) { assert.Equal(t, "true", v.S) }},
		{"object into string keeps JSON", `{"s":{"spf":{"allow":true}}}`, func(t *testing.T, v coerceTarget) {
			assert.JSONEq(t, `{"spf":{"allow":true}}`, v.S)
		}},
		{"numeric string into int", `{"n":" 42 "}`, func(t *testing.T, v coerceTarget) { assert.Equal(t, 42, v.N) }},
		{"fraction into int truncates", `{"n":2.9}`, func(t *testing.T, v coerceTarget) { assert.Equal(t, 2, v.N) }},
		{"N/A into int is dropped", `{"n":"N/A","s":"kept"}`, func(t *testing.T, v coerceTarget) {
			assert.Zero(t, v.N)
			assert.Equal(t, "kept", v.S)
		}},
		{"overflow is dropped", `{"u":"300"}`, func(t *testing.T, v coerceTarget) { assert.Zero(t, v.U) }},
		{"negative into uint is dropped", `{"u":-1}`, func(t *testing.T, v coerceTarget) { assert.Zero(t, v.U) }},
		{"string into float", `{"f":"1.5"}`, func(t *testing.T, v coerceTarget) { assert.InDelta(t, 1.5, v.F, 0) }},
		{"string true into bool", `{"b":"true"}`, func(t *testing.T, v coerceTarget) { assert.True(t, v.B) }},
		{"Yes into bool", `{"b":"Yes"}`, func(t *testing.T, v coerceTarget) { assert.True(t, v.B) }},
		{"number into bool", `{"b":1}`, func(t *testing.T, v coerceTarget) { assert.True(t, v.B) }},
		{"word into bool is dropped", `{"b":"maybe","n":1}`, func(t *testing.T, v coerceTarget) {
			assert.False(t, v.B)
			assert.Equal(t, 1, v.N)
		}},
		{"scalar into list", `{"l":"one"}`, func(t *testing.T, v coerceTarget) { assert.Equal(t, []string{"one"}, v.L) }},
		{"numbers into string list", `{"l":[1,"b"]}`, func(t *testing.T, v coerceTarget) { assert.Equal(t, []string{"1", "b"}, v.L) }},
		{"map values bent", `{"m":{"a":"1","b":"x"}}`, func(t *testing.T, v coerceTarget) { assert.Equal(t, map[string]int{"a": 1}, v.M) }},
		{"list into map is dropped", `{"m":[1],"s":"ok"}`, func(t *testing.T, v coerceTarget) {
			assert.Nil(t, v.M)
			assert.Equal(t, "ok", v.S)
		}},
		{"nested struct field bent", `{"inner":{"x":"7"}}`, func(t *testing.T, v coerceTarget) { assert.Equal(t, 7, v.Inner.X) }},
		{"string into struct is dropped", `{"inner":"x","n":"3"}`, func(t *testing.T, v coerceTarget) { assert.Equal(t, 3, v.N) }},
		{"address from string", `{"addr":"a@b.example","n":"1"}`, func(t *testing.T, v coerceTarget) {
			assert.Equal(t, "a@b.example", v.Addr.EmailAddress)
		}},
		{"address list from one object", `{"addrs":{"emailAddress":"a@b.example"},"n":"1"}`, func(t *testing.T, v coerceTarget) {
			require.Len(t, v.Addrs, 1)
			assert.Equal(t, "a@b.example", v.Addrs[0].EmailAddress)
		}},
		{"raw kept", `{"raw":{"x":1},"n":"1"}`, func(t *testing.T, v coerceTarget) { assert.JSONEq(t, `{"x":1}`, string(v.Raw)) }},
		{"any kept", `{"any":[1],"n":"1"}`, func(t *testing.T, v coerceTarget) { assert.Equal(t, []any{float64(1)}, v.Any) }},
		{"pointer bent", `{"ptr":"5"}`, func(t *testing.T, v coerceTarget) {
			require.NotNil(t, v.Ptr)
			assert.Equal(t, 5, *v.Ptr)
		}},
		{"deep bent", `{"deep":{"k":"true"}}`, func(t *testing.T, v coerceTarget) { assert.Equal(t, []bool{true}, v.Deep["k"]) }},
		{"case-insensitive names", `{"S":1,"N":"2"}`, func(t *testing.T, v coerceTarget) {
			assert.Equal(t, "1", v.S)
			assert.Equal(t, 2, v.N)
		}},
		{"unknown fields ignored", `{"zzz":{"a":[1,{}]},"n":"2"}`, func(t *testing.T, v coerceTarget) { assert.Equal(t, 2, v.N) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v coerceTarget
			require.NoError(t, decodeTolerant([]byte(tt.in), &v))
			tt.check(t, v)
		})
	}
}

func TestAddressAcceptsObjectVariantsAndStrings(t *testing.T) {
	tests := []struct{ in, email, name string }{
		{`{"emailAddress":"a@x.example","displayableName":"A"}`, "a@x.example", "A"},
		{`{"email":"b@x.example"}`, "b@x.example", ""},
		{`{"address":"c@x.example","domain":"x.example"}`, "c@x.example", ""},
		{`"d@x.example"`, "d@x.example", ""},
		{`null`, "", ""},
		{`42`, "", ""},
	}
	for _, tt := range tests {
		var a Address
		require.NoError(t, json.Unmarshal([]byte(tt.in), &a), tt.in)
		assert.Equal(t, tt.email, a.EmailAddress, tt.in)
		assert.Equal(t, tt.name, a.DisplayableName, tt.in)
	}
}

// A decoded record's id skips the second validation of its bytes; it must still be exactly the
// ContentHash of what Mimecast sent, whatever the spelling (checkpoints hold these ids).
func TestIDOfDecodedRecordIsContentHashOfItsBytes(t *testing.T) {
	for _, raw := range []string{
		`{"url":"https://a.example/?q=<x>&y=1","date":"2026-11-23T10:00:00+0000","n":1.50}`,
		" {\"b\" : [1, 2e3, -0.0], \"a\":\"\\u00e9\\ud83d\\ude00\\u2028\", \"c\":null}\n",
		`{"route":"inbound","userOverride":"None","nested":{"z":{},"y":[]},"flag":true}`,
		`{"scanResult":"clean","scanResult":"malicious"}`,
	} {
		click := decodeRecord[URLClick]([]byte(raw))
		require.NoError(t, click.DecodeErr(), raw)
		assert.Equal(t, ContentHash([]byte(raw)), click.ID(), raw)
		siem := decodeRecord[SIEMEvent]([]byte(raw))
		require.NoError(t, siem.DecodeErr(), raw)
		assert.Equal(t, ContentHash([]byte(raw)), siem.ID(), raw)
	}
}
