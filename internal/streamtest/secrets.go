package streamtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
)

// SecretClientSecret is the test tenant's client secret: long and unmistakable, so that any
// appearance of it (or of a part) is found.
const SecretClientSecret = "sec-Zq8Vw3xR9tK2-never-print-me"

// CredentialRecorder wraps the fake tenant and remembers every credential that crossed the wire:
// the access tokens it issued and the signatures of the pre-signed URLs it listed.
type CredentialRecorder struct {
	next http.Handler

	mu     sync.Mutex
	tokens []string
	sigs   []string
}

func (c *CredentialRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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

// Credentials returns what must never be seen: the secret, every token and every signature.
func (c *CredentialRecorder) Credentials() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]string{SecretClientSecret}, c.tokens...)
	return append(out, c.sigs...)
}

// SecretTenant serves a small tenant with threat feeds, SIEM files and archived mail, whose one
// client has SecretClientSecret, behind a CredentialRecorder.
func SecretTenant(t *testing.T, faults mimecastfake.Faults) (*CredentialRecorder, string) {
	t.Helper()
	fake := mimecastfake.New(mimecastfake.Options{
		Seed:    5,
		Clients: []mimecastfake.ClientApp{{ID: mimecastfake.DefaultClientID, Secret: SecretClientSecret}},
		Sizes:   mimecastfake.Sizes{EventsPerFeed: 12, Span: 10 * time.Hour},
		Faults:  faults,
	})
	rec := &CredentialRecorder{next: fake}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

func SecretConnYAML(url, traceLevel string) string {
	return fmt.Sprintf("api_url: %s\nclient_id: %s\nclient_secret: %s\ntrace_level: %s\nstats_interval: 50ms\nmax_retry_wait: 100ms\n",
		url, mimecastfake.DefaultClientID, SecretClientSecret, traceLevel)
}

// AssertNoCredential fails for every credential found in any of texts (named by where).
func AssertNoCredential(t *testing.T, creds []string, texts map[string]string) {
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

// MessagesText is every body, metadata value and error of msgs, as text.
func MessagesText(msgs []*service.Message) string {
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
