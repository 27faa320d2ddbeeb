package mimecast

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSecretAndTokensNeverLogged drives token requests, refreshes, an error echoing the token and
// a download at every trace level, then greps everything the client wrote or returned.
func TestSecretAndTokensNeverLogged(t *testing.T) {
	for _, level := range []string{TraceNone, TraceCalls, TraceAll} {
		t.Run(level, func(t *testing.T) {
			r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
				switch req.URL.Path {
				case "/api/echo":
					// A badly behaved server (or proxy) echoing credentials back.
					writeJSON(w, 400, `{"fail":[{"code":"bad","message":"got `+req.Header.Get("Authorization")+` for `+rigClientSecret+`"}]}`)
				case "/api/html":
					writeJSON(w, 502, `<html>token=`+strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")+`</html>`)
				case "/api/expire":
					if bearer(req) == 1 {
						writeJSON(w, 401, `{"fail":[{"code":"token_expired","message":"expired"}]}`)
						return
					}
					writeJSON(w, 200, okEnvelope)
				case "/file":
					_, _ = w.Write([]byte("data"))
				default:
					writeJSON(w, 200, okEnvelope)
				}
			}, func(c *Config) { c.TraceLevel = level; c.MaxRetries = -1 })

			var errs []string
			_, err := r.client.CallAPI(t.Context(), "/api/ok", map[string]string{"q": "v"}, Pagination{PageSize: 2})
			require.NoError(t, err)
			_, err = r.client.CallAPI(t.Context(), "/api/expire", nil, Pagination{})
			require.NoError(t, err)
			_, err = r.client.CallAPI(t.Context(), "/api/echo", nil, Pagination{})
			require.Error(t, err)
			errs = append(errs, err.Error())
			_, err = r.client.CallAPI(t.Context(), "/api/html", nil, Pagination{})
			require.Error(t, err)
			errs = append(errs, err.Error())
			body, err := r.client.Download(t.Context(), r.srv.URL+"/file?X-Amz-Signature=sig-value-123")
			require.NoError(t, err)
			body.Close()
			require.Equal(t, int32(2), r.tokens.Load())

			everything := r.logs.Text() + "\n" + strings.Join(errs, "\n")
			assert.NotContains(t, everything, rigClientSecret)
			assert.NotContains(t, everything, rigTokenPrefix)
			assert.NotContains(t, everything, "sig-value-123")

			logs := r.logs.Text()
			switch level {
			case TraceNone:
				// Only the notice of the refresh after /api/expire's token_expired.
				assert.Equal(t, "INFO mimecast /api/expire: the access token was refused (token_expired) before its expiry; repeated the call with a new token", logs)
			case TraceCalls:
				assert.Contains(t, logs, "mimecast POST /api/ok: 200 in ")
				assert.Contains(t, logs, "mimecast POST /oauth/token: 200 in ")
				assert.Contains(t, logs, "mimecast POST /api/expire: 401 in ")
				assert.NotContains(t, logs, "body")
			case TraceAll:
				assert.Contains(t, logs, `mimecast POST /api/ok request: headers {Accept: application/json; Authorization: [redacted]; Content-Type: application/json; User-Agent: mimecast-connect} body {"meta":{"pagination":{"pageSize":2}},"data":[{"q":"v"}]}`)
				assert.Contains(t, logs, `"access_token":"[redacted]"`)
				assert.Contains(t, logs, "client_secret=[redacted]")
				assert.Contains(t, logs, `"data":[{"id":"a"}]`)
				assert.Contains(t, logs, "(streamed to the caller")
			}
		})
	}
}

func TestTraceBodiesAreTruncated(t *testing.T) {
	big := `{"data":[` + strings.Repeat(`{"id":"xxxxxxxxxx"},`, 1000) + `{"id":"last"}]}`
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, big) },
		func(c *Config) { c.TraceLevel = TraceAll })
	_, err := r.client.CallAPI(t.Context(), "/api/x", nil, Pagination{})
	require.NoError(t, err)
	logs := r.logs.Text()
	assert.NotContains(t, logs, "last")
	assert.Contains(t, logs, "…")
}
