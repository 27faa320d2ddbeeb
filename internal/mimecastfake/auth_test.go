package mimecastfake

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gatewayFail(t *testing.T, body map[string]any) (string, string) {
	t.Helper()
	fails, ok := body["fail"].([]any)
	require.True(t, ok, "body has fail[]: %v", body)
	require.Len(t, fails, 1)
	f := fails[0].(map[string]any)
	code, _ := f["code"].(string)
	msg, _ := f["message"].(string)
	require.NotEmpty(t, msg)
	return code, msg
}

func TestTokenIssuedForValidClientCredentials(t *testing.T) {
	h := newFakeHarness(t, Options{})
	status, body := h.issueToken(DefaultClientID, DefaultClientSecret)
	require.Equal(t, http.StatusOK, status)
	assert.NotEmpty(t, body["access_token"])
	assert.Equal(t, "Bearer", body["token_type"])
	assert.Equal(t, 1799, asInt(t, body["expires_in"]), "30 min TTL reported one second short")
	assert.Equal(t, "", body["scope"])
	assert.Equal(t, 1, h.srv.Stats().TokensIssued)
}

func TestTokenExpiresInFollowsConfiguredTTL(t *testing.T) {
	h := newFakeHarness(t, Options{TokenTTL: 10 * time.Minute})
	_, body := h.issueToken(DefaultClientID, DefaultClientSecret)
	assert.Equal(t, 599, asInt(t, body["expires_in"]))
}

func TestTokenRefusedForBadCredentials(t *testing.T) {
	h := newFakeHarness(t, Options{})
	for _, c := range [][2]string{{DefaultClientID, "wrong"}, {"nobody", DefaultClientSecret}, {"", ""}} {
		status, body := h.issueToken(c[0], c[1])
		require.Equal(t, http.StatusUnauthorized, status)
		code, msg := gatewayFail(t, body)
		assert.Equal(t, "InvalidClientIdentifier", code)
		assert.Equal(t, "Client credentials are invalid", msg)
	}
	assert.Zero(t, h.srv.Stats().TokensIssued)
}

func TestTokenRefusedForOtherGrantTypes(t *testing.T) {
	h := newFakeHarness(t, Options{})
	form := url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "grant_type": {"password"}}
	resp, err := h.http.Client().PostForm(h.http.URL+"/oauth/token", form)
	require.NoError(t, err)
	status, body := decodeResponse(t, resp)
	require.Equal(t, http.StatusBadRequest, status)
	code, _ := gatewayFail(t, body)
	assert.Equal(t, "unsupported_grant_type", code)
}

func TestTokenExpiresAfterTTL(t *testing.T) {
	h := newFakeHarness(t, Options{TokenTTL: 30 * time.Minute})
	status, _ := h.post("/api/ttp/url/get-logs", apiBody(nil, "", nil))
	require.Equal(t, http.StatusOK, status)

	h.clock.Advance(30*time.Minute - time.Second)
	status, _ = h.post("/api/ttp/url/get-logs", apiBody(nil, "", nil))
	require.Equal(t, http.StatusOK, status, "still valid one second before expiry")

	h.clock.Advance(time.Second)
	status, body := h.post("/api/ttp/url/get-logs", apiBody(nil, "", nil))
	require.Equal(t, http.StatusUnauthorized, status)
	code, _ := gatewayFail(t, body)
	assert.Equal(t, "token_expired", code)

	h.token = ""
	status, _ = h.post("/api/ttp/url/get-logs", apiBody(nil, "", nil))
	assert.Equal(t, http.StatusOK, status, "a fresh token works")
}

func TestMissingOrUnknownBearerIsUnauthorized(t *testing.T) {
	h := newFakeHarness(t, Options{})
	for name, token := range map[string]string{"missing": "", "unknown": "not-a-token"} {
		t.Run(name, func(t *testing.T) {
			status, body := decodeResponse(t, h.doWith(token, http.MethodPost, "/api/ttp/url/get-logs", apiBody(nil, "", nil)))
			require.Equal(t, http.StatusUnauthorized, status)
			code, _ := gatewayFail(t, body)
			assert.Equal(t, "unauthorized", code)
		})
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.http.URL+"/threats/v1/events?timestampRangeStartsAt=2025-01-01T00:00:00Z", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Basic "+h.bearer())
	resp, err := h.http.Client().Do(req)
	require.NoError(t, err)
	status, _ := decodeResponse(t, resp)
	assert.Equal(t, http.StatusUnauthorized, status, "only the Bearer scheme is accepted")
}

func TestProductNotGrantedIsForbidden(t *testing.T) {
	h := newFakeHarness(t, Options{Clients: []ClientApp{{ID: "siem-only", Secret: "s", Products: []string{ProductSIEM}}}})
	status, body := h.issueToken("siem-only", "s")
	require.Equal(t, http.StatusOK, status)
	token := body["access_token"].(string)

	status, body = decodeResponse(t, h.doWith(token, http.MethodPost, "/api/ttp/url/get-logs", apiBody(nil, "", nil)))
	require.Equal(t, http.StatusForbidden, status)
	code, msg := gatewayFail(t, body)
	assert.Equal(t, "app_forbidden", code)
	assert.Equal(t, "Forbidden to perform the requested operation", msg)

	status, _ = decodeResponse(t, h.doWith(token, http.MethodGet, "/threats/v1/events?timestampRangeStartsAt=2025-01-01T00:00:00Z", nil))
	assert.Equal(t, http.StatusForbidden, status)
}

func TestTokensAreOpaqueAndDistinct(t *testing.T) {
	h := newFakeHarness(t, Options{})
	_, a := h.issueToken(DefaultClientID, DefaultClientSecret)
	_, b := h.issueToken(DefaultClientID, DefaultClientSecret)
	assert.NotEqual(t, a["access_token"], b["access_token"])
	assert.False(t, strings.Contains(a["access_token"].(string), DefaultClientID), "the token does not embed the client id")
}
