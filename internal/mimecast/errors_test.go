package mimecast

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAPIErrorMessageReadsWell(t *testing.T) {
	cases := []struct {
		err  *APIError
		want string
	}{
		{&APIError{Endpoint: "/api/x", StatusCode: 403, Codes: []string{"app_forbidden"}, Messages: []string{"Forbidden to perform the requested operation"}},
			"mimecast /api/x: HTTP 403 app_forbidden: Forbidden to perform the requested operation"},
		{&APIError{Endpoint: "/api/x", StatusCode: 200, Codes: []string{"err_a", "err_b"}, Messages: []string{"first", ""}},
			"mimecast /api/x: HTTP 200 err_a: first; err_b"},
		{&APIError{Endpoint: "/api/x", StatusCode: 502, Body: "<html>", Err: errors.New("response is HTML")},
			`mimecast /api/x: HTTP 502: response is HTML; received "<html>"`},
		{&APIError{Endpoint: "/api/x", Err: errors.New("connection refused")},
			"mimecast /api/x: connection refused"},
		{&APIError{Endpoint: "/siem/v1/events/cg", StatusCode: 503, Messages: []string{"Service Unavailable"}},
			"mimecast /siem/v1/events/cg: HTTP 503 Service Unavailable"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, tc.err.Error())
	}
}

func TestAPIErrorClassifiers(t *testing.T) {
	cases := []struct {
		name                                                    string
		err                                                     *APIError
		forbidden, unauthorized, rateLimited, expired, notFound bool
	}{
		{"403", &APIError{StatusCode: 403}, true, false, false, false, false},
		{"app_forbidden in 200", &APIError{StatusCode: 200, Codes: []string{"APP_FORBIDDEN"}}, true, false, false, false, false},
		{"401", &APIError{StatusCode: 401}, false, true, false, false, false},
		{"token_expired", &APIError{StatusCode: 200, Codes: []string{"token_expired"}}, false, true, false, false, false},
		{"bad credentials", &APIError{StatusCode: 401, Codes: []string{"InvalidClientIdentifier"}}, false, true, false, false, false},
		{"429", &APIError{StatusCode: 429}, false, false, true, false, false},
		{"404", &APIError{StatusCode: 404}, false, false, false, false, true},
		{"download 403", &APIError{StatusCode: 403, download: true}, false, false, false, true, false},
		{"download 404", &APIError{StatusCode: 404, download: true}, false, false, false, true, false},
		{"download 500", &APIError{StatusCode: 500, download: true}, false, false, false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.forbidden, tc.err.Forbidden(), "Forbidden")
			assert.Equal(t, tc.unauthorized, tc.err.Unauthorized(), "Unauthorized")
			assert.Equal(t, tc.rateLimited, tc.err.RateLimited(), "RateLimited")
			assert.Equal(t, tc.expired, tc.err.Expired(), "Expired")
			assert.Equal(t, tc.notFound, tc.err.NotFound(), "NotFound")
		})
	}
}

func TestIsRetryable(t *testing.T) {
	base := errors.New("root cause")
	assert.True(t, IsRetryable(&APIError{Retryable: true}))
	assert.True(t, IsRetryable(fmt.Errorf("fetching page: %w", &APIError{Retryable: true})))
	assert.False(t, IsRetryable(&APIError{Retryable: false}))
	assert.False(t, IsRetryable(&APIError{Retryable: true, Err: context.Canceled}), "cancellation wins")
	assert.False(t, IsRetryable(context.DeadlineExceeded))
	assert.False(t, IsRetryable(base))
	assert.False(t, IsRetryable(nil))
	assert.ErrorIs(t, &APIError{Err: base}, base, "Unwrap")
}

func TestRetryableStatus(t *testing.T) {
	for status, want := range map[int]bool{200: false, 400: false, 401: false, 403: false, 404: false, 408: true, 429: true, 500: true, 501: false, 502: true, 503: true, 504: true} {
		assert.Equal(t, want, retryableStatus(status), "%d", status)
	}
}
