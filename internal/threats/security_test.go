package threats

import (
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// Security checks over whole streams: secrets and tokens never reach a log line (the stream test
// with every component is input's TestSecretsAndTokensNeverReachLogsMetricsOrMessagesAtAnyTraceLevel);
// TLS verification is on unless turned off, and turning it off warns; each feed works with only
// its own product, and a missing one is named.

func TestBadCredentialsAndTokenEndpointErrorsHoldNoSecret(t *testing.T) {
	cases := []struct {
		name   string
		secret string // configured; the tenant's is streamtest.SecretClientSecret
		faults mimecastfake.Faults
		line   string // the start of the log line of the failed poll
		want   string // in that line
	}{
		{"wrong secret", streamtest.SecretClientSecret + "-but-wrong", mimecastfake.Faults{}, "url_protect: Mimecast refused the credentials", "HTTP 401 InvalidClientIdentifier: Client credentials are invalid"},
		{"token endpoint down", streamtest.SecretClientSecret, mimecastfake.Faults{TokenEndpointDown: 1000}, "url_protect: polling failed", "HTTP 503 service_unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, url := streamtest.SecretTenant(t, tc.faults)
			conn := strings.Replace(streamtest.SecretConnYAML(url, "all"), streamtest.SecretClientSecret, tc.secret, 1)
			in := "mimecast_threats:\n" + streamtest.Indent(conn+"feeds: [url_protect]\npoll_interval: 100ms\nmax_retries: 1\n", "  ")
			c := streamtest.NewCollector()
			_, stop, obs := streamtest.StartObserved(t, streamtest.StreamSpec{Input: in}, c)
			require.Eventually(t, func() bool {
				return strings.Contains(obs.LogText(), tc.line)
			}, 10*time.Second, 20*time.Millisecond)
			stop()
			assert.Empty(t, c.Snapshot())
			warn := ""
			for _, l := range obs.LogLines(slog.LevelWarn) {
				if strings.Contains(l.Msg, tc.line) {
					warn = l.Msg
				}
			}
			assert.Contains(t, warn, tc.want)
			streamtest.AssertNoCredential(t, append(rec.Credentials(), tc.secret), map[string]string{
				"the log":       obs.LogText(),
				"metric labels": strings.Join(obs.LabelValues(), "\n"),
			})
		})
	}
}

// tlsTenant serves the fake tenant over HTTPS with httptest's self-signed certificate.
func tlsTenant(t *testing.T) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(mimecastfake.New(smallTenant()))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestTLSVerificationIsOnByDefault(t *testing.T) {
	url := tlsTenant(t)
	c := streamtest.NewCollector()
	_, stop, obs := streamtest.StartObserved(t, streamtest.StreamSpec{Input: threatsYAML(url, "feeds: [url_protect]\n")}, c)
	require.Eventually(t, func() bool {
		return strings.Contains(obs.LogText(), "url_protect: polling failed")
	}, 10*time.Second, 20*time.Millisecond)
	stop()
	assert.Empty(t, c.Snapshot(), "nothing is read from a server whose certificate is not trusted")
	assert.Contains(t, obs.LogText(), "certificate signed by unknown authority")
	assert.Zero(t, obs.CounterWith("mimecast_api_retries", "reason=network"), "a certificate error is not retried")
}

func TestSkipCertVerifyWorksAndWarns(t *testing.T) {
	url := tlsTenant(t)
	c := streamtest.NewCollector()
	_, stop, obs := streamtest.StartObserved(t, streamtest.StreamSpec{Input: threatsYAML(url, "feeds: [url_protect]\ntls:\n  enabled: true\n  skip_cert_verify: true\n")}, c)
	c.WaitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) >= 30 })
	stop()
	var warned int
	for _, l := range obs.LogLines(slog.LevelWarn) {
		if strings.Contains(l.Msg, "tls.skip_cert_verify is on: the Mimecast server's certificate is not checked") {
			warned++
		}
	}
	assert.Equal(t, 1, warned, "turning verification off is a visible warning")
}

// onlyProducts is smallTenant with one client granted only products.
func onlyProducts(products ...string) mimecastfake.Options {
	opts := smallTenant()
	opts.Clients = []mimecastfake.ClientApp{{ID: mimecastfake.DefaultClientID, Secret: mimecastfake.DefaultClientSecret, Products: products}}
	return opts
}

func TestThreatsFeedWorksWithOnlyItsOwnProduct(t *testing.T) {
	_, url := streamtest.FakeTenant(t, onlyProducts(mimecastfake.ProductURLProtect))
	c := streamtest.NewCollector()
	_, stop, obs := streamtest.StartObserved(t, streamtest.StreamSpec{Input: threatsYAML(url, "feeds: [url_protect]\n")}, c)
	c.WaitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) >= 30 })
	msgs := streamtest.Settle(c)
	stop()
	assert.Equal(t, 30, distinct(eventIDs(msgs)))
	for _, l := range obs.LogLines(slog.LevelWarn) {
		assert.Contains(t, l.Msg, "no checkpoint_cache", "nothing else to warn about")
	}
}

func TestThreatsMissingProductIsNamedOnceAndOtherFeedsFlow(t *testing.T) {
	fake, url := streamtest.FakeTenant(t, onlyProducts(mimecastfake.ProductURLProtect))
	c := streamtest.NewCollector()
	_, stop, obs := streamtest.StartObserved(t, streamtest.StreamSpec{Input: threatsYAML(url, "feeds: [url_protect, attachment_protect]\n")}, c)
	c.WaitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) >= 30 })
	msgs := streamtest.Settle(c)
	stop()
	assert.Equal(t, 30, distinct(eventIDs(msgs)))
	for _, m := range msgs {
		assert.Equal(t, "url_protect", meta(m, metaFeed))
	}
	var refusals []string
	for _, l := range obs.LogLines(slog.LevelError) {
		if strings.Contains(l.Msg, "Mimecast refused access") {
			refusals = append(refusals, l.Msg)
		}
	}
	require.Len(t, refusals, 1, "said once, not on every poll")
	assert.Contains(t, refusals[0], "attachment_protect: Mimecast refused access (fetching attachment protect logs: mimecast /api/ttp/attachment/get-logs: HTTP 403 app_forbidden")
	assert.Contains(t, refusals[0], "grant the API application the product Attachment Protection and the role permission Monitoring | Attachment Protection | Read")
	assert.Equal(t, int64(1), obs.Counter("mimecast_threats_fetch_errors{feed=attachment_protect}"), "one refusal, then the feed waits")
	assert.Equal(t, 1, fake.Stats().EndpointStatuses["/api/ttp/attachment/get-logs"][http.StatusForbidden], "a 403 is not retried")
}
