package mimecast

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertNoPieceOf fails when text holds any minPartLen-byte piece of secret.
func assertNoPieceOf(t *testing.T, text, secret, what string) {
	t.Helper()
	for i := 0; i+minPartLen <= len(secret); i++ {
		if piece := secret[i : i+minPartLen]; strings.Contains(text, piece) {
			assert.Failf(t, "a piece of the "+what+" leaked", "%q holds %q", text, piece)
			return
		}
	}
}

func TestNoPieceOfTheSecretOrATokenReachesAnErrorOrALog(t *testing.T) {
	secret := rigClientSecret
	longToken := rigTokenPrefix + strings.Repeat("T0k3n", 200) // 1000+ characters
	cases := []struct {
		name  string
		token func(w http.ResponseWriter, req *http.Request, n int)
		api   func(w http.ResponseWriter, req *http.Request)
		leak  string // what must not leak
	}{
		{
			name: "secret echoed past the 200th character of an OAuth error",
			token: func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeJSON(w, 401, `{"error":"invalid_client","error_description":"`+strings.Repeat("x", 180)+` got `+secret+`"}`)
			},
			leak: secret,
		},
		{
			name: "part of the secret echoed in a fail message",
			token: func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeJSON(w, 401, `{"fail":[{"code":"InvalidClientIdentifier","message":"bad secret starting `+secret[:14]+`"}]}`)
			},
			leak: secret,
		},
		{
			name: "secret in a SIEM error code",
			token: func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeJSON(w, 400, `{"error":{"code":"`+secret+`","message":{"detail":"`+secret+`"}}}`)
			},
			leak: secret,
		},
		{
			name: "a 1000-character live token in fail[].message on get-logs",
			token: func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeJSON(w, 200, `{"access_token":"`+longToken+`","token_type":"Bearer","expires_in":1799}`)
			},
			api: func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, 200, `{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"err_x","message":"token `+longToken+` refused","retryable":false}]}]}`)
			},
			leak: longToken,
		},
		{
			name: "half of the live token in an HTML error page",
			token: func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeJSON(w, 200, `{"access_token":"`+longToken+`","token_type":"Bearer","expires_in":1799}`)
			},
			api: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(400)
				_, _ = w.Write([]byte("<html>" + strings.Repeat("y", 150) + longToken[300:700] + "</html>"))
			},
			leak: longToken,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := tc.api
			if api == nil {
				api = func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, okEnvelope) }
			}
			r := newRig(t, api, func(c *Config) { c.MaxRetries = -1; c.TraceLevel = TraceAll })
			r.token = tc.token
			_, err := r.client.CallAPI(t.Context(), "/api/ttp/url/get-logs", nil, Pagination{})
			require.Error(t, err)
			assertNoPieceOf(t, err.Error(), tc.leak, "credential")
			assertNoPieceOf(t, r.logs.Text(), tc.leak, "credential")
		})
	}
}

func TestRedactorRemovesPiecesAndKeepsTheRest(t *testing.T) {
	r := newRedactor("abcdefghijklmnopqrstuvwxyz")
	cases := []struct{ in, want string }{
		{"no secret here", "no secret here"},
		{"x abcdefghijklmnopqrstuvwxyz y", "x [redacted] y"},
		{"x klmnopqrstuv y", "x [redacted] y"},
		{"x klmnopqrstu y", "x klmnopqrstu y"}, // 11 bytes: too short to tell from chance
		{"cut abcdefghijklmnop", "cut [redacted]"},
		{"twice defghijklmnopq and uvwxyzabcdefghijklmnop", "twice [redacted] and uvwxyz[redacted]"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, r.String(tc.in), tc.in)
	}
}
