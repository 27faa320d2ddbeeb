package mimecast

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A SIEM batch listing names pre-signed URLs: traced at trace_level all, their signatures would
// let anyone reading the log download the batch until the URL expires.
func TestRedactTextRemovesPreSignedURLSignatures(t *testing.T) {
	cases := map[string]string{
		`{"url":"https://b.s3.amazonaws.com/f.json.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256\u0026X-Amz-Signature=cea083a0c4\u0026X-Amz-SignedHeaders=host"}`: `{"url":"https://b.s3.amazonaws.com/f.json.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256\u0026X-Amz-Signature=[redacted]\u0026X-Amz-SignedHeaders=host"}`,
		`GET /f?X-Amz-Date=1&X-Amz-Signature=abc123&X-Amz-Security-Token=tok%2Fx`:                                                                       `GET /f?X-Amz-Date=1&X-Amz-Signature=[redacted]&X-Amz-Security-Token=[redacted]`,
		`https://acct.blob.core.windows.net/c/f?sv=2022&sig=AbC%3D&se=2026`:                                                                             `https://acct.blob.core.windows.net/c/f?sv=2022&sig=[redacted]&se=2026`,
		`https://storage.googleapis.com/b/f?X-Goog-Signature=0a1b`:                                                                                      `https://storage.googleapis.com/b/f?X-Goog-Signature=[redacted]`,
		`an error naming signature=abc123 in prose`:                                                                                                     `an error naming signature=[redacted] in prose`,
		`nothing signed here: designs=1&assign=2`:                                                                                                       `nothing signed here: designs=1&assign=2`,
	}
	for in, want := range cases {
		assert.Equal(t, want, redactText(in), in)
	}
}
