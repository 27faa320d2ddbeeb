package input

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"

	// mimecast_enrich runs in the same stream as mimecast_threats, sharing its client.
	_ "github.com/mimecast-connect/mimecast-connect/processor"
)

// Security checks of issue 8 over whole streams: secrets, tokens and signatures never reach a log
// line (at any trace_level and log level), a metric label or a message; TLS verification is on
// unless turned off, and turning it off warns; each feed works with only its own product, and a
// missing one is named. The client's own tests cover the parts below the stream:
// internal/mimecast TestSecretAndTokensNeverLogged (every layer, every trace level),
// TestAPIRedirectIsNotFollowed, TestBearerTokenIsSentOnlyToTheAPIHost,
// TestDownloadSendsNoAuthorizationEvenAcrossRedirects, TestBatchFileDownloadCarriesNoAuthorization
// and TestTLSConfigIsUsedAndCertificateErrorsAreNotRetried.

// secretClientSecret is the test tenant's client secret: long and unmistakable, so that any
// appearance of it (or of a part) is found.
const secretClientSecret = "sec-Zq8Vw3xR9tK2-never-print-me"

// credentialRecorder wraps the fake tenant and remembers every credential that crossed the wire:
// the access tokens it issued and the signatures of the pre-signed URLs it listed.
type credentialRecorder struct {
	next http.Handler

	mu     sync.Mutex
	tokens []string
	sigs   []string
}

func (c *credentialRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/oauth/token" && !strings.HasPrefix(r.URL.Path, "/siem/v1/batch") {
		c.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	c.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	var answer struct {
		AccessToken string `json:"access_token"`
		Value       []struct {
			URL string `json:"url"`
		} `json:"value"`
	}
	if json.Unmarshal(body, &answer) == nil {
		c.mu.Lock()
		if answer.AccessToken != "" {
			c.tokens = append(c.tokens, answer.AccessToken)
		}
		for _, v := range answer.Value {
			if u, err := url.Parse(v.URL); err == nil && u.Query().Get("X-Amz-Signature") != "" {
				c.sigs = append(c.sigs, u.Query().Get("X-Amz-Signature"))
			}
		}
		c.mu.Unlock()
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// credentials returns what must never be seen: the secret, every token and every signature.
func (c *credentialRecorder) credentials() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]string{secretClientSecret}, c.tokens...)
	return append(out, c.sigs...)
}

// secretTenant serves a small tenant with threat feeds, SIEM files and archived mail, whose one
// client has secretClientSecret, behind a credentialRecorder.
func secretTenant(t *testing.T, faults mimecastfake.Faults) (*credentialRecorder, string) {
	t.Helper()
	fake := mimecastfake.New(mimecastfake.Options{
		Seed:    5,
		Clients: []mimecastfake.ClientApp{{ID: mimecastfake.DefaultClientID, Secret: secretClientSecret}},
		Sizes:   mimecastfake.Sizes{EventsPerFeed: 12, Span: 10 * time.Hour},
		Faults:  faults,
	})
	rec := &credentialRecorder{next: fake}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

func secretConnYAML(url, traceLevel string) string {
	return fmt.Sprintf("api_url: %s\nclient_id: %s\nclient_secret: %s\ntrace_level: %s\nstats_interval: 50ms\nmax_retry_wait: 100ms\n",
		url, mimecastfake.DefaultClientID, secretClientSecret, traceLevel)
}

// assertNoCredential fails for every credential found in any of texts (named by where).
func assertNoCredential(t *testing.T, creds []string, texts map[string]string) {
	t.Helper()
	for where, text := range texts {
		for _, cred := range creds {
			for _, line := range strings.Split(text, "\n") {
				if strings.Contains(line, cred) {
					t.Errorf("a credential (%.6s…) in %s: %s", cred, where, line)
				}
			}

		}
	}
}

// messagesText is every body, metadata value and error of msgs, as text.
func messagesText(msgs []*service.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		raw, _ := m.AsBytes()
		b.Write(raw)
		_ = m.MetaWalkMut(func(k string, v any) error {
			fmt.Fprintf(&b, " %s=%v", k, v)
			return nil
		})
		if err := m.GetError(); err != nil {
			b.WriteString(" error=" + err.Error())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestSecretsAndTokensNeverReachLogsMetricsOrMessagesAtAnyTraceLevel(t *testing.T) {
	for _, level := range []string{"none", "calls", "all"} {
		t.Run(level, func(t *testing.T) {
			// Faults that make the client and the inputs write errors: a token refused mid-run
			// (a second token), an HTML page, a fail[] with HTTP 200, an expired download URL.
			rec, url := secretTenant(t, mimecastfake.Faults{ExpireTokens: 1, HTMLErrorPages: 1, FailWith200: 1, ExpiredURLs: 1})
			in := "mimecast_threats:\n" + indent(secretConnYAML(url, level)+
				"feeds: [url_protect, siem]\nsiem_event_types: [av]\ncontent_view: true\npoll_interval: 100ms\nlookback: 24h\npage_size: 5\n", "  ")
			enrich := "mimecast_enrich:\n" + indent(secretConnYAML(url, level)+"lookups: [tracking, message_info, content]\n", "  ")
			c := newCollector()
			_, stop, obs := startObserved(t, streamSpec{input: in}, c, enrich)
			c.waitFor(t, 20*time.Second, func(m []*service.Message) bool { return len(m) >= 24 })
			msgs := settle(c)
			stop()

			creds := rec.credentials()
			require.GreaterOrEqual(t, len(creds), 4, "the secret, two tokens and a signature at least: %d", len(creds))
			assertNoCredential(t, creds, map[string]string{
				"the log":       obs.logText(),
				"metric labels": strings.Join(obs.labelValues(), "\n"),
				"the messages":  messagesText(msgs),
			})
			logs := obs.logText()
			assert.Contains(t, logs, "mimecast client:", "the stats line was written")
			switch level {
			case "calls":
				assert.Contains(t, logs, "mimecast POST /oauth/token: 200")
			case "all":
				assert.Contains(t, logs, "client_secret=[redacted]", "the token request's form was traced")
				assert.Contains(t, logs, "Authorization: [redacted]")
				assert.Contains(t, logs, `\"access_token\":\"[redacted]\"`)
			}
		})
	}
}

func TestBadCredentialsAndTokenEndpointErrorsHoldNoSecret(t *testing.T) {
	cases := []struct {
		name   string
		secret string // configured; the tenant's is secretClientSecret
		faults mimecastfake.Faults
		want   string // in the WARN line of the failed poll
	}{
		{"wrong secret", secretClientSecret + "-but-wrong", mimecastfake.Faults{}, "HTTP 401 InvalidClientIdentifier: Client credentials are invalid"},
		{"token endpoint down", secretClientSecret, mimecastfake.Faults{TokenEndpointDown: 1000}, "HTTP 503 service_unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, url := secretTenant(t, tc.faults)
			conn := strings.Replace(secretConnYAML(url, "all"), secretClientSecret, tc.secret, 1)
			in := "mimecast_threats:\n" + indent(conn+"feeds: [url_protect]\npoll_interval: 100ms\nmax_retries: 1\n", "  ")
			c := newCollector()
			_, stop, obs := startObserved(t, streamSpec{input: in}, c)
			require.Eventually(t, func() bool {
				return strings.Contains(obs.logText(), "url_protect: polling failed")
			}, 10*time.Second, 20*time.Millisecond)
			stop()
			assert.Empty(t, c.snapshot())
			warn := ""
			for _, l := range obs.logLines(slog.LevelWarn) {
				if strings.Contains(l.Msg, "url_protect: polling failed") {
					warn = l.Msg
				}
			}
			assert.Contains(t, warn, tc.want)
			assertNoCredential(t, append(rec.credentials(), tc.secret), map[string]string{
				"the log":       obs.logText(),
				"metric labels": strings.Join(obs.labelValues(), "\n"),
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
	c := newCollector()
	_, stop, obs := startObserved(t, streamSpec{input: threatsYAML(url, "feeds: [url_protect]\n")}, c)
	require.Eventually(t, func() bool {
		return strings.Contains(obs.logText(), "url_protect: polling failed")
	}, 10*time.Second, 20*time.Millisecond)
	stop()
	assert.Empty(t, c.snapshot(), "nothing is read from a server whose certificate is not trusted")
	assert.Contains(t, obs.logText(), "certificate signed by unknown authority")
	assert.Zero(t, obs.counterWith("mimecast_api_retries", "reason=network"), "a certificate error is not retried")
}

func TestSkipCertVerifyWorksAndWarns(t *testing.T) {
	url := tlsTenant(t)
	c := newCollector()
	_, stop, obs := startObserved(t, streamSpec{input: threatsYAML(url, "feeds: [url_protect]\ntls:\n  enabled: true\n  skip_cert_verify: true\n")}, c)
	c.waitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) >= 30 })
	stop()
	var warned int
	for _, l := range obs.logLines(slog.LevelWarn) {
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
	_, url := fakeTenant(t, onlyProducts(mimecastfake.ProductURLProtect))
	c := newCollector()
	_, stop, obs := startObserved(t, streamSpec{input: threatsYAML(url, "feeds: [url_protect]\n")}, c)
	c.waitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) >= 30 })
	msgs := settle(c)
	stop()
	assert.Equal(t, 30, distinct(eventIDs(msgs)))
	for _, l := range obs.logLines(slog.LevelWarn) {
		assert.Contains(t, l.Msg, "no checkpoint_cache", "nothing else to warn about")
	}
}

func TestThreatsMissingProductIsNamedOnceAndOtherFeedsFlow(t *testing.T) {
	fake, url := fakeTenant(t, onlyProducts(mimecastfake.ProductURLProtect))
	c := newCollector()
	_, stop, obs := startObserved(t, streamSpec{input: threatsYAML(url, "feeds: [url_protect, attachment_protect]\n")}, c)
	c.waitFor(t, 10*time.Second, func(m []*service.Message) bool { return len(m) >= 30 })
	msgs := settle(c)
	stop()
	assert.Equal(t, 30, distinct(eventIDs(msgs)))
	for _, m := range msgs {
		assert.Equal(t, "url_protect", meta(m, metaFeed))
	}
	var refusals []string
	for _, l := range obs.logLines(slog.LevelError) {
		if strings.Contains(l.Msg, "Mimecast refused access") {
			refusals = append(refusals, l.Msg)
		}
	}
	require.Len(t, refusals, 1, "said once, not on every poll")
	assert.Contains(t, refusals[0], "attachment_protect: Mimecast refused access (fetching attachment protect logs: mimecast /api/ttp/attachment/get-logs: HTTP 403 app_forbidden")
	assert.Contains(t, refusals[0], "grant the API application the product Attachment Protection and the role permission Monitoring | Attachment Protection | Read")
	assert.Equal(t, int64(1), obs.counter("mimecast_threats_fetch_errors{feed=attachment_protect}"), "one refusal, then the feed waits")
	assert.Equal(t, 1, fake.Stats().EndpointStatuses["/api/ttp/attachment/get-logs"][http.StatusForbidden], "a 403 is not retried")
}
