package connection

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

func spec() *service.ConfigSpec { return service.NewConfigSpec().Fields(Fields()...) }

func parse(t *testing.T, yaml string) *service.ParsedConfig {
	t.Helper()
	conf, err := spec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	return conf
}

func TestComponentsWithTheSameCredentialsShareOneClientAndToken(t *testing.T) {
	fake := mimecastfake.New(mimecastfake.Options{Seed: 1})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	yaml := "api_url: " + srv.URL + "\nclient_id: fake-client-id\nclient_secret: fake-client-secret\n"

	a, err := FromParsed(parse(t, yaml), service.MockResources(), "test_component")
	require.NoError(t, err)
	b, err := FromParsed(parse(t, yaml+"trace_level: calls\n"), service.MockResources(), "test_component")
	require.NoError(t, err)
	assert.NotSame(t, a.Client, b.Client, "each component has its own settings")
	assert.Same(t, a.entry, b.entry, "over one shared client")

	_, err = a.Client.GetAccount(a.Context(t.Context()))
	require.NoError(t, err)
	_, err = b.Client.GetAccount(b.Context(t.Context()))
	require.NoError(t, err)
	assert.Equal(t, 1, fake.Stats().TokensIssued, "one token for both components")

	a.Close()
	a.Close() // idempotent: must not release b's reference
	_, err = b.Client.GetAccount(b.Context(t.Context()))
	require.NoError(t, err, "the client stays open while a component holds it")
	b.Close()

	c, err := FromParsed(parse(t, yaml), service.MockResources(), "test_component")
	require.NoError(t, err)
	defer c.Close()
	assert.NotSame(t, a.entry, c.entry, "after the last Close a new client is made")
}

func TestSameClientIDWithAnotherSecretIsAConfigError(t *testing.T) {
	a, err := FromParsed(parse(t, "api_url: http://127.0.0.1:9\nclient_id: x\nclient_secret: s3cr3t-A\n"), service.MockResources(), "test_component")
	require.NoError(t, err)
	defer a.Close()
	_, err = FromParsed(parse(t, "api_url: http://127.0.0.1:9\nclient_id: x\nclient_secret: s3cr3t-B\n"), service.MockResources(), "test_component")
	require.ErrorContains(t, err, "client_secret: test_component and test_component use client_id \"x\"")
	assert.NotContains(t, err.Error(), "s3cr3t-A")
	assert.NotContains(t, err.Error(), "s3cr3t-B")
}

func TestEachComponentWaitsOnItsOwnRateLimit(t *testing.T) {
	fake := mimecastfake.New(mimecastfake.Options{Seed: 1})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	yaml := "api_url: " + srv.URL + "\nclient_id: fake-client-id\nclient_secret: fake-client-secret\n"

	var waited atomic.Int32
	limited := service.MockResources(service.MockResourcesOptAddRateLimit("slow", func(context.Context) (time.Duration, error) {
		if waited.Add(1)%2 == 1 {
			return time.Millisecond, nil // first ask: wait a little, then go
		}
		return 0, nil
	}))
	a, err := FromParsed(parse(t, yaml+"rate_limit: slow\n"), limited, "test_component")
	require.NoError(t, err)
	defer a.Close()
	b, err := FromParsed(parse(t, yaml), service.MockResources(), "test_component")
	require.NoError(t, err)
	defer b.Close()

	_, err = b.Client.GetAccount(b.Context(t.Context()))
	require.NoError(t, err)
	assert.Zero(t, waited.Load(), "a component without rate_limit does not wait on another's")
	_, err = a.Client.GetAccount(a.Context(t.Context()))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, waited.Load(), int32(2), "the named rate_limit was consulted before the call")
}

func TestConnectionFieldErrorsNameTheField(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"page size", "page_size: 0\n", "page_size: 0 is out of range"},
		{"multiplier", "retry_after_multiplier: 0.5\n", "retry_after_multiplier: 0.5 is below 1"},
		{"negative retries", "max_retries: -1\n", "max_retries: -1 is negative"},
		{"zero timeout", "timeout: 0s\n", "timeout: 0s is not positive"},
		{"missing rate limit", "rate_limit: nope\n", `rate_limit: rate_limit resource "nope" is not defined`},
		{"tiny body cap", "max_body_bytes: 10\n", "max_body_bytes: 10 is too small"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ConfigFromParsed(parse(t, "client_id: a\nclient_secret: b\n"+tc.yaml), service.MockResources())
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestComponentsSharingAClientKeepTheirOwnSettings(t *testing.T) {
	fake := mimecastfake.New(mimecastfake.Options{Seed: 1, Sizes: mimecastfake.Sizes{EventsPerFeed: 50}})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	yaml := "api_url: " + srv.URL + "\nclient_id: fake-client-id\nclient_secret: fake-client-secret\n"

	a, err := FromParsed(parse(t, yaml+"page_size: 7\nmax_retries: 1\n"), service.MockResources(), "first")
	require.NoError(t, err)
	defer a.Close()
	b, err := FromParsed(parse(t, yaml+"page_size: 300\ntimeout: 5s\n"), service.MockResources(), "second")
	require.NoError(t, err)
	defer b.Close()
	assert.Equal(t, 7, a.Client.PageSize())
	assert.Equal(t, 300, b.Client.PageSize(), "the second component's page_size is its own")

	// Both use one token and one quota.
	_, err = a.Client.GetAccount(a.Context(t.Context()))
	require.NoError(t, err)
	_, err = b.Client.GetAccount(b.Context(t.Context()))
	require.NoError(t, err)
	assert.Equal(t, 1, fake.Stats().TokensIssued)

	// max_retries is per component: the first gives up after one retry, the second retries five
	// times and gets through.
	fake.SetFaults(mimecastfake.Faults{ServerErrors: 3})
	_, err = a.Client.GetAccount(a.Context(t.Context()))
	require.Error(t, err, "max_retries 1 of the first component")
	fake.SetFaults(mimecastfake.Faults{ServerErrors: 3})
	_, err = b.Client.GetAccount(b.Context(t.Context()))
	require.NoError(t, err, "max_retries 5 (the default) of the second component")
}

func TestComponentsSharingAClientMustAgreeOnTheSharedFields(t *testing.T) {
	base := "api_url: http://127.0.0.1:9\nclient_id: x\nclient_secret: s\n"
	cases := []struct{ name, first, second, field string }{
		{"auth_url", "", "auth_url: http://127.0.0.1:9/other/token\n", "auth_url"},
		{"proxy_url", "proxy_url: http://proxy:3128\n", "", "proxy_url"},
		{"tls", "tls: {enabled: true}\n", "tls: {enabled: true, skip_cert_verify: true}\n", "tls"},
		{"max_in_flight", "", "max_in_flight: 4\n", "max_in_flight"},
		{"token_expiry_offset", "token_expiry_offset: -5m\n", "", "token_expiry_offset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := FromParsed(parse(t, base+tc.first), service.MockResources(), "mimecast_threats")
			require.NoError(t, err)
			defer a.Close()
			_, err = FromParsed(parse(t, base+tc.second), service.MockResources(), "mimecast_enrich")
			require.Error(t, err)
			assert.Equal(t, tc.field+`: mimecast_enrich and mimecast_threats use client_id "x" at http://127.0.0.1:9, so they share one token and one quota, but their `+tc.field+` differ: give both the same `+tc.field, err.Error())
		})
	}
	t.Run("the default auth_url spelt out is the same", func(t *testing.T) {
		a, err := FromParsed(parse(t, base), service.MockResources(), "a")
		require.NoError(t, err)
		defer a.Close()
		b, err := FromParsed(parse(t, base+"auth_url: http://127.0.0.1:9/oauth/token\n"), service.MockResources(), "b")
		require.NoError(t, err)
		b.Close()
	})
}

// With tls enabled a plain http pre-signed URL is refused, unless allow_plain_http_downloads
// opts in; without tls it is downloaded.
func TestPlainHTTPDownloadsAreRefusedUnderTLSUnlessAllowed(t *testing.T) {
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("events")) }))
	t.Cleanup(files.Close)
	cases := []struct {
		name, extra string
		refused     bool
	}{
		{"tls enabled", "tls:\n  enabled: true\n", true},
		{"tls enabled, opted in", "tls:\n  enabled: true\nallow_plain_http_downloads: true\n", false},
		{"no tls", "", false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			yaml := fmt.Sprintf("api_url: http://127.0.0.1:9\nclient_id: plain-%d\nclient_secret: s3cr3t\n%s", i, tc.extra)
			c, err := FromParsed(parse(t, yaml), service.MockResources(), "test_component")
			require.NoError(t, err)
			defer c.Close()
			body, err := c.Client.Download(t.Context(), files.URL+"/f.json.gz?X-Amz-Signature=s1gn4tur3")
			if tc.refused {
				require.ErrorIs(t, err, mimecast.ErrPlainDownload)
				assert.Contains(t, err.Error(), "allow_plain_http_downloads")
				assert.NotContains(t, err.Error(), "s1gn4tur3")
				return
			}
			require.NoError(t, err)
			b, err := io.ReadAll(body)
			require.NoError(t, err)
			body.Close()
			assert.Equal(t, "events", string(b))
		})
	}
}

func TestComponentsOfOneClientMustAgreeOnPlainDownloads(t *testing.T) {
	base := "api_url: http://127.0.0.1:9\nclient_id: plain-agree\nclient_secret: s3cr3t\ntls:\n  enabled: true\n"
	a, err := FromParsed(parse(t, base), service.MockResources(), "test_component")
	require.NoError(t, err)
	defer a.Close()
	_, err = FromParsed(parse(t, base+"allow_plain_http_downloads: true\n"), service.MockResources(), "test_component")
	require.ErrorContains(t, err, "allow_plain_http_downloads")
}
