package mimecast

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

// retryableFailByDecoding is what retryableFail decided before it scanned: decode the body into
// a struct with a fail field.
func retryableFailByDecoding(body []byte) bool {
	var probe struct {
		Fail []FailEntry `json:"fail"`
	}
	if len(body) == 0 || json.Unmarshal(body, &probe) != nil || len(probe.Fail) == 0 {
		return false
	}
	for _, f := range probe.Fail {
		if len(f.Errors) == 0 {
			return false
		}
		for _, e := range f.Errors {
			if !e.Retryable {
				return false
			}
		}
	}
	return true
}

var retryableFailCases = []string{
	`{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"x","retryable":true}]}]}`,
	`{"fail":[{"errors":[{"code":"x","retryable":"true"},{"code":"y","retryable":true}]}]}`,
	`{"fail":[{"errors":[{"code":"x","retryable":false}]}]}`,
	`{"fail":[{"code":"gateway","message":"no errors list"}]}`,
	`{"FAIL":[{"errors":[{"retryable":true}]}],"data":[{"fail":"inside data"}]}`,
	`{"fail":[{"errors":[{"retryable":true}]}],"Fail":[]}`,
	`{"fail":"not a list"}`, `{"fail":null}`, `{"data":[1,2,3]}`, `[{"fail":[]}]`, `null`, ``,
	`{"fail":[{"errors":[{"retryable":true}]}]`, ` {"f\u0061il":[{"errors":[{"retryable":true}]}]} `,
}

// isErrorShapeByDecoding is what getJSON's isErrorShape decided before it scanned.
func isErrorShapeByDecoding(body []byte) bool {
	var probe struct {
		Fail  []json.RawMessage `json:"fail"`
		Error json.RawMessage   `json:"error"`
	}
	if json.Unmarshal(body, &probe) != nil {
		return false
	}
	return len(probe.Fail) > 0 || jsonKind(probe.Error) == '{'
}

var errorShapeCases = []string{
	`{"error":{"code":"x","message":"m"}}`, `{"error":"invalid_client"}`, `{"Error":{}}`,
	`{"fail":[{}],"error":null}`, `{"fail":{},"error":{"code":1}}`, `{"fail":[1],"fail":null}`,
	`{"data":[{"error":{"x":1}}],"next":"n"}`,
}

func TestRetryableFailMatchesDecoding(t *testing.T) {
	for _, in := range retryableFailCases {
		assert.Equal(t, retryableFailByDecoding([]byte(in)), retryableFail([]byte(in)), "%q", in)
	}
}

// getJSON asks isErrorShape only of valid bodies; there it decides as decoding did.
func TestErrorShapeProbeMatchesDecoding(t *testing.T) {
	for _, in := range append(errorShapeCases, retryableFailCases...) {
		if json.Valid([]byte(in)) {
			assert.Equal(t, isErrorShapeByDecoding([]byte(in)), isErrorShape([]byte(in)), "%q", in)
		}
	}
}

func FuzzRetryableFailMatchesDecoding(f *testing.F) {
	for _, in := range append(errorShapeCases, retryableFailCases...) {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if want, got := retryableFailByDecoding(body), retryableFail(body); want != got {
			t.Fatalf("retryableFail(%q) = %v, decoding says %v", body, got, want)
		}
		if json.Valid(body) {
			if want, got := isErrorShapeByDecoding(body), isErrorShape(body); want != got {
				t.Fatalf("isErrorShape(%q) = %v, decoding says %v", body, got, want)
			}
		}
	})
}
