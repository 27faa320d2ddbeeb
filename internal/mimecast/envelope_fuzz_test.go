package mimecast

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeEnvelope: whatever a server or a proxy sends, decoding never panics, returns exactly
// one of an envelope or an *APIError, and an error shows at most a short, valid excerpt.
func FuzzDecodeEnvelope(f *testing.F) {
	seeds := []struct {
		status int
		body   string
	}{
		{200, `{"meta":{"status":200,"pagination":{"pageSize":25,"totalCount":479,"next":"n"}},"data":[{"a":1}],"fail":[]}`},
		{200, `{"meta":{"status":200},"data":[],"fail":[{"key":{"id":"x"},"errors":[{"code":"err_developer_key","message":"App ID is invalid","retryable":false}]}]}`},
		{401, `{"fail":[{"code":"token_expired","message":"The access token has expired"}]}`},
		{200, `{"meta":{"pagination":{"pageSize":"100","next":5}},"data":{"items":[]}}`},
		{502, `<html><body>Bad gateway</body></html>`},
		{200, ``},
		{200, `{"data":"x"}`},
		{200, `[{"data":[]}]`},
		{200, `{"fail":[{"errors":[{"code":1,"message":null,"retryable":"true"}]}]}`},
		{429, `{"fail":[{"code":"rate","message":"slow"}],"access_token":"t0k3n"}`},
		{200, `{"DATA":[1],"data":[2],"Meta":null,"fa\u0069l":[],"x":{"data":[3]}}`},
		{200, `null`},
	}
	for _, s := range seeds {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		// The scan that finds meta, data and fail in a validated body agrees with decoding.
		var want envelopeRaw
		if json.Unmarshal(body, &want) == nil && json.Valid(body) {
			got, err := envelopeMembers(body, true)
			if err != nil || !bytes.Equal(got.Meta, want.Meta) || !bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Fail, want.Fail) {
				t.Fatalf("scanned members %+v (%v), decoded %+v", got, err, want)
			}
		}
		env, err := decodeEnvelope(nil, "/api/fuzz", status, body)
		if (env == nil) == (err == nil) {
			t.Fatalf("want exactly one of envelope and error, got %v and %v", env, err)
		}
		if err != nil {
			if err.Endpoint != "/api/fuzz" || err.StatusCode != status {
				t.Fatalf("error lost its context: %+v", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "mimecast /api/fuzz") {
				t.Fatalf("unexpected message %q", msg)
			}
			if len(err.Body) > snippetLen+len("…") || !utf8.ValidString(err.Body) {
				t.Fatalf("body excerpt too long or invalid: %q", err.Body)
			}
			return
		}
		if status < 200 || status > 299 {
			t.Fatalf("HTTP %d decoded as success", status)
		}
		if len(env.Fail) != 0 {
			t.Fatalf("envelope with fail[] returned as success")
		}
		if k := jsonKind(env.Data); k != '[' && k != '{' {
			t.Fatalf("data is neither list nor object: %q", env.Data)
		}
		if !json.Valid(env.Data) {
			t.Fatalf("data is not valid JSON: %q", env.Data)
		}
	})
}
