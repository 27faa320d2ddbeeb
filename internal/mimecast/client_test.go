package mimecast

import (
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validConfig() Config {
	return Config{APIURL: "https://api.example.test", ClientID: "id", ClientSecret: "pw-4f9a"}
}

func TestNewRejectsInvalidConfigNamingTheField(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"relative api_url", func(c *Config) { c.APIURL = "api.services.mimecast.com" }, "api_url:"},
		{"ftp api_url", func(c *Config) { c.APIURL = "ftp://api.example.test" }, "api_url:"},
		{"api_url with credentials", func(c *Config) { c.APIURL = "https://u:p@api.example.test" }, "api_url:"},
		{"bad auth_url", func(c *Config) { c.AuthURL = "/oauth/token" }, "auth_url:"},
		{"empty client_id", func(c *Config) { c.ClientID = " " }, "client_id:"},
		{"empty client_secret", func(c *Config) { c.ClientSecret = "" }, "client_secret:"},
		{"page_size too large", func(c *Config) { c.PageSize = 501 }, "page_size:"},
		{"multiplier below 1", func(c *Config) { c.RetryAfterMultiplier = 0.5 }, "retry_after_multiplier:"},
		{"max_retries below -1", func(c *Config) { c.MaxRetries = -2 }, "max_retries:"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout:"},
		{"unknown trace level", func(c *Config) { c.TraceLevel = "verbose" }, "trace_level:"},
		{"negative stats_interval", func(c *Config) { c.StatsInterval = -time.Second }, "stats_interval:"},
		{"relative proxy_url", func(c *Config) { c.ProxyURL = "proxy:3128" }, "proxy_url:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.mutate(&cfg)
			_, err := New(cfg)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tc.field), "error %q should start with %q", err, tc.field)
			assert.NotContains(t, err.Error(), "pw-4f9a")
		})
	}
}

func TestNewFillsDocumentedDefaults(t *testing.T) {
	c, err := New(Config{ClientID: "id", ClientSecret: "secret"})
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, DefaultAPIURL, c.cfg.APIURL)
	assert.Equal(t, DefaultAPIURL+"/oauth/token", c.cfg.AuthURL)
	assert.Equal(t, -60*time.Second, c.cfg.TokenExpiryOffset)
	assert.Equal(t, 100, c.PageSize())
	assert.Equal(t, 1.0, c.cfg.RetryAfterMultiplier)
	assert.Equal(t, 5*time.Minute, c.cfg.MaxRetryWait)
	assert.Equal(t, 5, c.cfg.retries())
	assert.Equal(t, 60*time.Second, c.cfg.Timeout)
	assert.Equal(t, int64(64<<20), c.cfg.MaxBodyBytes)
	assert.Equal(t, TraceNone, c.cfg.TraceLevel)

	none, err := New(Config{ClientID: "id", ClientSecret: "secret", MaxRetries: -1, APIURL: "http://127.0.0.1:1/"})
	require.NoError(t, err)
	defer none.Close()
	assert.Equal(t, 0, none.cfg.retries())
	assert.Equal(t, "http://127.0.0.1:1/oauth/token", none.cfg.AuthURL, "trailing slash of api_url trimmed")
}

func TestCloseStopsStatsLogAndIsIdempotent(t *testing.T) {
	logs := &logRecorder{}
	c, err := New(Config{ClientID: "id", ClientSecret: "secret", StatsInterval: time.Millisecond, Logger: logs})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(logs.Text(), "calls") }, 5*time.Second, time.Millisecond)
	c.Close()
	c.Close()
	before := logs.Text()
	time.Sleep(5 * time.Millisecond) // a stats goroutine still running would log in this time
	assert.Equal(t, before, logs.Text())
}

func TestCallAPISendsTheEnvelope(t *testing.T) {
	cases := []struct {
		name string
		item any
		pag  Pagination
		want string
	}{
		{"parameterless first page", nil, Pagination{}, `{"data":[]}`},
		{"item and pagination", map[string]any{"from": "2025-01-01T00:00:00+0000"}, Pagination{PageSize: 5, PageToken: "tok"},
			`{"meta":{"pagination":{"pageSize":5,"pageToken":"tok"}},"data":[{"from":"2025-01-01T00:00:00+0000"}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got atomic.Value
			r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
				assert.Equal(t, http.MethodPost, req.Method)
				assert.Equal(t, "/api/ttp/url/get-logs", req.URL.Path)
				assert.Equal(t, "application/json", req.Header.Get("Content-Type"))
				assert.Equal(t, "application/json", req.Header.Get("Accept"))
				assert.Equal(t, 1, bearer(req))
				got.Store(requestJSON(req))
				writeJSON(w, 200, okEnvelope)
			})
			env, err := r.client.CallAPI(t.Context(), "/api/ttp/url/get-logs", tc.item, tc.pag)
			require.NoError(t, err)
			assert.JSONEq(t, `[{"id":"a"}]`, string(env.Data))
			assert.Equal(t, 200, env.Meta.Status)
			want := requestJSONString(t, tc.want)
			assert.Equal(t, want, got.Load())
		})
	}
}

func requestJSONString(t *testing.T, s string) any {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(s))
	v := requestJSON(req)
	require.NotNil(t, v)
	return v
}

func TestAPIRedirectIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, other.URL+req.URL.Path, http.StatusTemporaryRedirect)
	})
	_, err := r.client.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusTemporaryRedirect, apiErr.StatusCode)
	assert.Contains(t, err.Error(), "api_url")
	assert.Zero(t, elsewhere.Load(), "the redirect target must not be called (it would see the token)")
}

func TestProxyURLCarriesAllCalls(t *testing.T) {
	var (
		mu      sync.Mutex
		hosts   []string
		proxied atomic.Int32
	)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		proxied.Add(1)
		mu.Lock()
		hosts = append(hosts, req.URL.Host) // a proxy sees absolute URLs
		mu.Unlock()
		if req.URL.Path == "/oauth/token" {
			serveToken(w, req, 1, 1799)
			return
		}
		writeJSON(w, 200, okEnvelope)
	}))
	defer proxy.Close()
	c, err := New(Config{APIURL: "http://mimecast.invalid", ClientID: rigClientID, ClientSecret: rigClientSecret, ProxyURL: proxy.URL})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), proxied.Load())
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"mimecast.invalid", "mimecast.invalid"}, hosts)
}

func TestTLSConfigIsUsedAndCertificateErrorsAreNotRetried(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/oauth/token" {
			serveToken(w, req, 1, 1799)
			return
		}
		writeJSON(w, 200, okEnvelope)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	clock := newFakeClock()
	base := Config{APIURL: srv.URL, ClientID: rigClientID, ClientSecret: rigClientSecret, Now: clock.Now, Sleep: clock.Sleep}

	untrusted, err := New(base)
	require.NoError(t, err)
	defer untrusted.Close()
	_, err = untrusted.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	require.Error(t, err)
	assert.False(t, IsRetryable(err), "an untrusted certificate does not heal: %v", err)
	assert.Empty(t, clock.Sleeps(), "no backoff for a certificate error")
	assert.Zero(t, untrusted.Stats().Retries)

	trusting := base
	trusting.TLSConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	require.NotNil(t, trusting.TLSConfig.RootCAs)
	trusted, err := New(trusting)
	require.NoError(t, err)
	defer trusted.Close()
	_, err = trusted.CallAPI(t.Context(), "/api/account/get-account", nil, Pagination{})
	require.NoError(t, err)
	var unknown x509.UnknownAuthorityError
	assert.False(t, errors.As(err, &unknown))
}

func TestDownloadSendsNoAuthorizationEvenAcrossRedirects(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	record := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, s)
	}
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		record("storage:" + req.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write([]byte("file-content"))
	}))
	defer storage.Close()
	r := newRig(t, func(w http.ResponseWriter, req *http.Request) {
		record("api:" + req.Header.Get("Authorization"))
		switch req.URL.Path {
		case "/siem/v1/batch/events/cg":
			writeJSON(w, 200, `{"value":[]}`)
		default: // a pre-signed URL on the API host that redirects to storage
			http.Redirect(w, req, storage.URL+"/bucket/file.json.gz?X-Amz-Signature=sig", http.StatusFound)
		}
	})
	// A token exists, so a leak would have something to leak.
	require.NoError(t, r.client.GetJSON(t.Context(), "/siem/v1/batch/events/cg", nil, nil))

	body, err := r.client.Download(t.Context(), r.srv.URL+"/presigned/file?sig=abc")
	require.NoError(t, err)
	defer body.Close()
	b := make([]byte, 64)
	n, _ := body.Read(b)
	assert.Equal(t, "file-content", string(b[:n]))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"api:Bearer " + rigTokenPrefix + "1", "api:", "storage:"}, seen)
	assert.Equal(t, int32(1), r.tokens.Load())
}

func TestDownloadExpiredURLIsExpiredNotForbidden(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusNotFound} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(status)
				_, _ = w.Write([]byte("<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"))
			})
			_, err := r.client.Download(t.Context(), r.srv.URL+"/f?X-Amz-Signature=topsecretsig")
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.True(t, apiErr.Expired())
			assert.False(t, apiErr.Forbidden())
			assert.False(t, apiErr.NotFound())
			assert.False(t, IsRetryable(err))
			assert.Equal(t, downloadEndpoint, apiErr.Endpoint)
			assert.NotContains(t, err.Error(), "topsecretsig")
			assert.Empty(t, r.clock.Sleeps())
		})
	}
}

func TestDownloadRetriesServerErrorsWithoutLeakingTheSignature(t *testing.T) {
	var hits atomic.Int32
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}, func(c *Config) { c.MaxRetries = 2; c.TraceLevel = TraceAll })
	_, err := r.client.Download(t.Context(), r.srv.URL+"/f?X-Amz-Signature=topsecretsig")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
	assert.True(t, apiErr.Retryable)
	assert.Equal(t, int32(3), hits.Load())
	assert.NotContains(t, err.Error(), "topsecretsig")
	assert.NotContains(t, r.logs.Text(), "topsecretsig")
	assert.Contains(t, r.logs.Text(), "GET "+r.srv.URL+"/f?[redacted]: 503")
	assert.Contains(t, r.metrics.Events(), "retry siem_batch_file http_503")
}

func TestDownloadRejectsANonHTTPURL(t *testing.T) {
	r := newRig(t, func(http.ResponseWriter, *http.Request) { t.Error("no request expected") })
	_, err := r.client.Download(t.Context(), "file:///etc/passwd")
	require.Error(t, err)
}
