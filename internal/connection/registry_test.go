package connection

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

	a, err := FromParsed(parse(t, yaml), service.MockResources())
	require.NoError(t, err)
	b, err := FromParsed(parse(t, yaml+"trace_level: calls\n"), service.MockResources())
	require.NoError(t, err)
	assert.Same(t, a.Client, b.Client)

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

	c, err := FromParsed(parse(t, yaml), service.MockResources())
	require.NoError(t, err)
	defer c.Close()
	assert.NotSame(t, a.Client, c.Client, "after the last Close a new client is made")
}

func TestSameClientIDWithAnotherSecretIsAConfigError(t *testing.T) {
	a, err := FromParsed(parse(t, "api_url: http://127.0.0.1:9\nclient_id: x\nclient_secret: s3cr3t-A\n"), service.MockResources())
	require.NoError(t, err)
	defer a.Close()
	_, err = FromParsed(parse(t, "api_url: http://127.0.0.1:9\nclient_id: x\nclient_secret: s3cr3t-B\n"), service.MockResources())
	require.ErrorContains(t, err, "client_secret: another component uses client_id \"x\"")
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
	a, err := FromParsed(parse(t, yaml+"rate_limit: slow\n"), limited)
	require.NoError(t, err)
	defer a.Close()
	b, err := FromParsed(parse(t, yaml), service.MockResources())
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
