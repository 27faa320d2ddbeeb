package mimecast

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRedactTextRemovesCredentialsByShape(t *testing.T) {
	cases := map[string]string{
		`{"access_token":"abc.def","expires_in":1799}`:          `{"access_token":"[redacted]","expires_in":1799}`,
		`{"access_token" : "a\"b"}`:                             `{"access_token" : "[redacted]"}`,
		`{"client_secret":"s"}`:                                 `{"client_secret":"[redacted]"}`,
		`client_id=x&client_secret=s3cr3t&grant_type=client_cr`: `client_id=x&client_secret=[redacted]&grant_type=client_cr`,
		`client_secret=s3cr3t`:                                  `client_secret=[redacted]`,
		`Authorization: Bearer eyJhbGciOi.x.y`:                  `Authorization: Bearer [redacted]`,
		`nothing secret here`:                                   `nothing secret here`,
	}
	for in, want := range cases {
		assert.Equal(t, want, redactText(in), in)
	}
}

func TestRedactorRemovesKnownValuesAnywhere(t *testing.T) {
	r := newRedactor("the-client-secret")
	for i := range 6 {
		r.addToken("token-number-" + string(rune('a'+i)))
	}
	s := r.String("secret the-client-secret in a message, tokens token-number-f and token-number-c")
	assert.Equal(t, "secret [redacted] in a message, tokens [redacted] and [redacted]", s)
	assert.Len(t, r.secrets, 1+keepTokens, "old tokens are forgotten, the secret never")
}

func TestSnippetCutsAfterRedactingAndOnRuneBoundaries(t *testing.T) {
	r := newRedactor("")
	body := []byte(`{"access_token":"` + strings.Repeat("t", 300) + `"}`)
	assert.Equal(t, `{"access_token":"[redacted]"}`, r.snippet(body, 200))

	s := r.snippet([]byte(strings.Repeat("é", 150)), 201)
	assert.True(t, strings.HasSuffix(s, "…"))
	assert.Equal(t, strings.Repeat("é", 100)+"…", s)
}

func TestRedactURLDropsQueryAndUser(t *testing.T) {
	assert.Equal(t, "https://bucket.example.test/a/b.json.gz?[redacted]", redactURL("https://u:p@bucket.example.test/a/b.json.gz?X-Amz-Signature=abc#frag"))
	assert.Equal(t, "https://h/p", redactURL("https://h/p"))
}
