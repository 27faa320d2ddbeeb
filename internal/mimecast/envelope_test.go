package mimecast

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeEnvelopeAcceptsEveryReportedShape(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		wantData string
		wantNext string
	}{
		{"flat list", `{"meta":{"status":200},"data":[{"a":1}],"fail":[]}`, `[{"a":1}]`, ""},
		{"wrapper object", `{"meta":{"status":200,"pagination":{"pageSize":25,"totalCount":479,"next":"n1"}},"data":[{"clickLogs":[]}],"fail":[]}`, `[{"clickLogs":[]}]`, "n1"},
		{"data as a bare object", `{"data":{"items":[]}}`, `{"items":[]}`, ""},
		{"null data", `{"meta":{"status":200},"data":null,"fail":null}`, `[]`, ""},
		{"no data", `{"meta":{"status":200}}`, `[]`, ""},
		{"numbers as strings", `{"meta":{"status":"200","pagination":{"pageSize":"100","totalCount":"5","next":"n2"}},"data":[]}`, `[]`, "n2"},
		{"next as a number", `{"meta":{"pagination":{"next":12345}},"data":[1]}`, `[1]`, "12345"},
		{"unknown fields", `{"meta":{"status":200,"isLastToken":false},"data":[],"extra":{"x":1}}`, `[]`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, err := decodeEnvelope(nil, "/api/x", 200, []byte(tc.body))
			require.Nil(t, err)
			assert.JSONEq(t, tc.wantData, string(env.Data))
			assert.Equal(t, tc.wantNext, env.Meta.Pagination.Next)
		})
	}
}

func TestDecodeEnvelopeRejectsBadInputWithATypedError(t *testing.T) {
	html := "<html><head><title>Proxy error</title></head><body>" + strings.Repeat("x", 1000) + "</body></html>"
	cases := []struct {
		name      string
		status    int
		body      string
		contains  string
		retryable bool
		codes     []string
	}{
		{"function fail with HTTP 200", 200, `{"meta":{"status":200},"data":[],"fail":[{"key":{"id":"x"},"errors":[{"code":"err_developer_key","message":"App ID is invalid: INVALID","retryable":false}]}]}`,
			"HTTP 200 err_developer_key: App ID is invalid: INVALID", false, []string{"err_developer_key"}},
		{"retryable fail", 200, `{"data":[],"fail":[{"errors":[{"code":"err_busy","message":"busy","retryable":"true"}]}]}`, "err_busy", true, []string{"err_busy"}},
		{"gateway fail 403", 403, `{"fail":[{"code":"app_forbidden","message":"Forbidden to perform the requested operation"}]}`,
			"HTTP 403 app_forbidden: Forbidden", false, []string{"app_forbidden"}},
		{"fail without codes", 200, `{"data":[],"fail":[{}]}`, "without a code", false, nil},
		{"HTML from a proxy", 502, html, "HTML", true, nil},
		{"HTML with 200", 200, html, "HTML", false, nil},
		{"empty body", 200, "", "empty", false, nil},
		{"whitespace body", 500, " \n", "empty", true, nil},
		{"plain text", 200, "Service Unavailable", "not JSON", false, nil},
		{"JSON list", 200, `[1,2]`, "list", false, nil},
		{"truncated JSON", 200, `{"data":[{"a":`, "decoding JSON", false, nil},
		{"data is a string", 200, `{"data":"nope"}`, "data is a string", false, nil},
		{"data is a number", 200, `{"data":5}`, "data is a number", false, nil},
		{"fail is an object", 200, `{"data":[],"fail":{"code":"x"}}`, "fail is a object", false, nil},
		{"meta is a string", 200, `{"meta":"x","data":[]}`, "meta", false, nil},
		{"pagination is a list", 200, `{"meta":{"pagination":[]},"data":[]}`, "meta", false, nil},
		{"429 with fail", 429, `{"fail":[{"code":"rate_limit","message":"slow down"}]}`, "HTTP 429 rate_limit", true, []string{"rate_limit"}},
		{"500 envelope without fail", 500, `{"meta":{"status":500},"data":[]}`, "HTTP 500", true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, err := decodeEnvelope(nil, "/api/x", tc.status, []byte(tc.body))
			require.Nil(t, env)
			require.NotNil(t, err)
			assert.Equal(t, "/api/x", err.Endpoint)
			assert.Equal(t, tc.status, err.StatusCode)
			assert.Contains(t, err.Error(), tc.contains)
			assert.Equal(t, tc.retryable, err.Retryable)
			if tc.codes != nil {
				assert.Equal(t, tc.codes, err.Codes)
			}
			assert.LessOrEqual(t, len(err.Body), snippetLen+len("…"))
		})
	}
}

func TestUndecodableBodyShowsWhatArrivedWithoutTokens(t *testing.T) {
	body := `<html>{"access_token":"leaked-token-value"} Authorization: Bearer abc.def.ghi</html>`
	_, err := decodeEnvelope(newRedactor(rigClientSecret), "/api/x", 502, []byte(body))
	require.NotNil(t, err)
	assert.Contains(t, err.Body, "<html>")
	assert.NotContains(t, err.Body, "leaked-token-value")
	assert.NotContains(t, err.Body, "abc.def.ghi")
}

func TestListPageStopRule(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		sent     string
		wantNext string
		wantN    int
		wantErr  bool
	}{
		{"more pages", `{"meta":{"pagination":{"next":"p2"}},"data":[{"id":"1"},{"id":"2"}]}`, "", "p2", 2, false},
		{"no next", `{"meta":{"pagination":{}},"data":[{"id":"1"}]}`, "p1", "", 1, false},
		{"empty data with next", `{"meta":{"pagination":{"next":"String"}},"data":[]}`, "p1", "", 0, false},
		{"next equal to the token sent", `{"meta":{"pagination":{"next":"p1"}},"data":[{"id":"1"}]}`, "p1", "", 1, false},
		{"fail with next", `{"meta":{"pagination":{"next":"p2"}},"data":[{"id":"1"}],"fail":[{"errors":[{"code":"err_x","message":"m"}]}]}`, "", "", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sent atomic.Value
			r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
				sent.Store(requestJSON(req))
				writeJSON(w, 200, tc.body)
			}, func(c *Config) { c.PageSize = 7 })
			page, err := ListPage(t.Context(), r.client, "/api/x", map[string]string{"q": "v"}, tc.sent, func(raw json.RawMessage, _ bool) ([]map[string]string, error) {
				var out []map[string]string
				return out, json.Unmarshal(raw, &out)
			})
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantNext, page.Next)
			assert.Len(t, page.Items, tc.wantN)
			meta := sent.Load().(map[string]any)["meta"].(map[string]any)["pagination"].(map[string]any)
			assert.Equal(t, float64(7), meta["pageSize"])
			if tc.sent != "" {
				assert.Equal(t, tc.sent, meta["pageToken"])
			}
		})
	}
}

func TestListPageDecodeErrorIsAnAPIError(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, `{"data":[{"clickLogs":"nope"}]}`) })
	_, err := ListPage(t.Context(), r.client, "/api/ttp/url/get-logs", nil, "", func(raw json.RawMessage, _ bool) ([]int, error) {
		var out []int
		return out, json.Unmarshal(raw, &out)
	})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "/api/ttp/url/get-logs", apiErr.Endpoint)
	assert.Contains(t, apiErr.Body, "clickLogs")
}

func TestGetJSON(t *testing.T) {
	type batch struct {
		Value    []map[string]any `json:"value"`
		NextPage string           `json:"@nextPage"`
	}
	cases := []struct {
		name     string
		status   int
		body     string
		wantErr  string
		wantCode string
	}{
		{"ok", 200, `{"value":[{"url":"u"}],"@nextPage":"np","isCaughtUp":false}`, "", ""},
		{"SIEM error", 400, `{"error":{"code":"InvalidParameter","message":"The dateRangeStartsAt is too far in the past"}}`, "HTTP 400 InvalidParameter: The dateRangeStartsAt", "InvalidParameter"},
		{"SIEM error with 200", 200, `{"error":{"code":"Oops","message":"m"}}`, "Oops", "Oops"},
		{"gateway fail", 401, `{"fail":[{"code":"unauthorized","message":"Unauthorized"}]}`, "unauthorized", "unauthorized"},
		{"fail with 200", 200, `{"fail":[{"code":"x","message":"y"}]}`, "x: y", "x"},
		{"OAuth2 shape", 400, `{"error":"invalid_request","error_description":"bad"}`, "invalid_request: bad", "invalid_request"},
		{"bare message", 503, `{"message":"Service Unavailable"}`, "Service Unavailable", ""},
		{"HTML", 200, `<html>login</html>`, "HTML", ""},
		{"empty", 200, ``, "empty", ""},
		{"wrong type", 200, `{"value":"x"}`, "decoding response", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var gotType atomic.Value
			r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
				gotType.Store(req.URL.Query().Get("type"))
				if req.Method != http.MethodGet {
					t.Errorf("method %s", req.Method)
				}
				writeJSON(w, tc.status, tc.body)
			}, func(c *Config) { c.MaxRetries = -1 })
			var out batch
			err := r.client.GetJSON(t.Context(), "/siem/v1/batch/events/cg", url.Values{"type": {"receipt"}, "pageSize": {"100"}}, &out)
			assert.Equal(t, "receipt", gotType.Load())
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, "np", out.NextPage)
				assert.Len(t, out.Value, 1)
				return
			}
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Equal(t, "/siem/v1/batch/events/cg", apiErr.Endpoint)
			if tc.wantCode != "" {
				assert.True(t, apiErr.HasCode(tc.wantCode), "%v", apiErr.Codes)
			}
		})
	}
}

func TestPostStream(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		ct      string
		body    string
		wantErr string
	}{
		{"file", 200, "application/octet-stream", "MIME-Version: 1.0\r\n\r\nhello", ""},
		{"failure envelope", 200, "application/json", `{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"err_not_found","message":"no such part"}]}]}`, "err_not_found"},
		{"JSON file without fail", 200, "application/json; charset=utf-8", `{"some":"attachment"}`, ""},
		{"HTTP error", 403, "application/json", `{"fail":[{"code":"app_forbidden","message":"Forbidden"}]}`, "app_forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
				assert.JSONEq(t, `{"data":[{"id":"m1"}]}`, jsonString(requestJSON(req)))
				w.Header().Set("Content-Type", tc.ct)
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			body, ct, err := r.client.PostStream(t.Context(), "/api/archive/get-message-part", map[string]string{"id": "m1"})
			if tc.wantErr != "" {
				var apiErr *APIError
				require.ErrorAs(t, err, &apiErr)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			defer body.Close()
			assert.Equal(t, tc.ct, ct)
			got, err := io.ReadAll(body)
			require.NoError(t, err)
			assert.Equal(t, tc.body, string(got))
		})
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestEncodeEnvelope(t *testing.T) {
	b, err := encodeEnvelope(nil, Pagination{})
	require.NoError(t, err)
	assert.JSONEq(t, `{"data":[]}`, string(b))
	b, err = encodeEnvelope(struct {
		From string `json:"from"`
	}{"2025-01-01T00:00:00+0000"}, Pagination{PageSize: 100})
	require.NoError(t, err)
	assert.JSONEq(t, `{"meta":{"pagination":{"pageSize":100}},"data":[{"from":"2025-01-01T00:00:00+0000"}]}`, string(b))
	_, err = encodeEnvelope(func() {}, Pagination{})
	require.Error(t, err)
}
