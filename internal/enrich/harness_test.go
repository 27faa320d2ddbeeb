package enrich

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecast"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

const (
	pathSearch      = "/api/message-finder/search"
	pathMessageInfo = "/api/message-finder/get-message-info"
	testCache       = "lookups"
)

// fakeTenant serves a simulated tenant over real HTTP for the test's lifetime. wrap, when not
// nil, sits between the server and the fake (to hold or observe requests).
func fakeTenant(t *testing.T, opts mimecastfake.Options, wrap func(http.Handler) http.Handler) (*mimecastfake.Server, string) {
	t.Helper()
	fake := mimecastfake.New(opts)
	var h http.Handler = fake
	if wrap != nil {
		h = wrap(fake)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

// connYAML is the connection block for the fake at url with the given credentials.
func connYAML(url, clientID, secret string) string {
	return fmt.Sprintf(`api_url: %s
client_id: %s
client_secret: %s
stats_interval: ""
max_retry_wait: 100ms
`, url, clientID, secret)
}

// newEnrich builds a mimecast_enrich from the connection block for url and extra fields, with
// a mock cache named testCache.
func newEnrich(t *testing.T, url, extra string) *enrichProcessor {
	t.Helper()
	return newEnrichAs(t, connYAML(url, mimecastfake.DefaultClientID, mimecastfake.DefaultClientSecret)+extra)
}

func newEnrichAs(t *testing.T, yaml string) *enrichProcessor {
	t.Helper()
	conf, err := Spec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	mgr := service.MockResources(service.MockResourcesOptAddCache(testCache))
	cfg, err := enrichConfigFromParsed(conf, mgr)
	require.NoError(t, err)
	p := newEnrichProcessor(cfg, mgr)
	t.Cleanup(func() { require.NoError(t, p.Close(context.Background())) })
	return p
}

// threatMessageIDs returns n distinct Message-IDs of the fake's threat events: mail that Message
// Finder knows.
func threatMessageIDs(t *testing.T, url string, n int) []string {
	t.Helper()
	return threatMessageIDsAs(t, url, mimecastfake.DefaultClientID, mimecastfake.DefaultClientSecret, n)
}

func threatMessageIDsAs(t *testing.T, url, clientID, secret string, n int) []string {
	t.Helper()
	c, err := mimecast.New(mimecast.Config{APIURL: url, ClientID: clientID, ClientSecret: secret})
	require.NoError(t, err)
	defer c.Close()
	page, err := c.ThreatEventsPage(t.Context(), mimecast.ThreatEventsRequest{Start: time.Now().Add(-71 * time.Hour)}, "")
	require.NoError(t, err)
	seen := map[string]bool{}
	var ids []string
	for _, e := range page.Items {
		if id := e.MessageID(); id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
		if len(ids) == n {
			return ids
		}
	}
	t.Fatalf("the fake has %d threat events with a message id, want %d", len(ids), n)
	return nil
}

// archivedMessageID returns the Message-ID of a message in the fake's archive.
func archivedMessageID(t *testing.T, fake *mimecastfake.Server, url, clientID, secret string) string {
	t.Helper()
	c, err := mimecast.New(mimecast.Config{APIURL: url, ClientID: clientID, ClientSecret: secret})
	require.NoError(t, err)
	defer c.Close()
	mailboxes := fake.Mailboxes()
	require.NotEmpty(t, mailboxes)
	archiveIDs := fake.MessageIDs(mailboxes[0])
	require.NotEmpty(t, archiveIDs)
	d, err := c.GetMessageDetail(t.Context(), archiveIDs[0])
	require.NoError(t, err)
	require.NotEmpty(t, d.MimeMessageID)
	return d.MimeMessageID
}

// event is a threat-like message carrying id in the metadata the default message_id reads.
func event(id string) *service.Message {
	m := service.NewMessage([]byte(`{"alert":"threat"}`))
	if id != "" {
		m.MetaSetMut("mimecast_message_id", id)
	}
	return m
}

// process runs one batch and returns its messages.
func process(t *testing.T, p *enrichProcessor, msgs ...*service.Message) service.MessageBatch {
	t.Helper()
	out, err := p.ProcessBatch(t.Context(), service.MessageBatch(msgs))
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Len(t, out[0], len(msgs))
	return out[0]
}

// resultOf decodes the message body's target field ("mimecast") of a message that is not
// flagged.
func resultOf(t *testing.T, m *service.Message) map[string]any {
	t.Helper()
	require.NoError(t, m.GetError())
	return resultIn(t, m)
}

// calls is how many requests the fake has served on path.
func calls(fake *mimecastfake.Server, path string) int { return fake.Stats().Calls[path] }

// waitUntil polls cond until it holds, failing the test after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
