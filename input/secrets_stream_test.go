package input

import (
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"

	// mimecast_enrich runs in the same stream as mimecast_threats, sharing its client.
	_ "github.com/mimecast-connect/mimecast-connect/processor"
)

// Secrets, tokens and signatures never reach a log line (at any trace_level and log level), a
// metric label or a message, with every Mimecast component in one stream sharing one client.
// The client's own tests cover the parts below the stream: internal/mimecast
// TestSecretAndTokensNeverLogged (every layer, every trace level), TestAPIRedirectIsNotFollowed,
// TestBearerTokenIsSentOnlyToTheAPIHost, TestDownloadSendsNoAuthorizationEvenAcrossRedirects,
// TestBatchFileDownloadCarriesNoAuthorization and TestTLSConfigIsUsedAndCertificateErrorsAreNotRetried.

func TestSecretsAndTokensNeverReachLogsMetricsOrMessagesAtAnyTraceLevel(t *testing.T) {
	for _, level := range []string{"none", "calls", "all"} {
		t.Run(level, func(t *testing.T) {
			// Faults that make the client and the inputs write errors: a token refused mid-run
			// (a second token), an HTML page, a fail[] with HTTP 200, an expired download URL.
			rec, url := streamtest.SecretTenant(t, mimecastfake.Faults{ExpireTokens: 1, HTMLErrorPages: 1, FailWith200: 1, ExpiredURLs: 1})
			in := "mimecast_threats:\n" + streamtest.Indent(streamtest.SecretConnYAML(url, level)+
				"feeds: [url_protect, siem]\nsiem_event_types: [av]\ncontent_view: true\npoll_interval: 100ms\nlookback: 24h\npage_size: 5\n", "  ")
			enrich := "mimecast_enrich:\n" + streamtest.Indent(streamtest.SecretConnYAML(url, level)+"lookups: [tracking, message_info, content]\n", "  ")
			c := streamtest.NewCollector()
			_, stop, obs := streamtest.StartObserved(t, streamtest.StreamSpec{Input: in}, c, enrich)
			c.WaitFor(t, 20*time.Second, func(m []*service.Message) bool { return len(m) >= 24 })
			msgs := streamtest.Settle(c)
			stop()

			creds := rec.Credentials()
			require.GreaterOrEqual(t, len(creds), 4, "the secret, two tokens and a signature at least: %d", len(creds))
			streamtest.AssertNoCredential(t, creds, map[string]string{
				"the log":       obs.LogText(),
				"metric labels": strings.Join(obs.LabelValues(), "\n"),
				"the messages":  streamtest.MessagesText(msgs),
			})
			logs := obs.LogText()
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
