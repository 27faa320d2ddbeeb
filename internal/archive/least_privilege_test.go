package archive

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// Least privilege: a crawl with content needs Directory, Archive and Content View and
// nothing else. Without Content View, TestArchiveWithoutContentViewEmitsMetadataOnlyAndWarnsOnce
// shows the metadata-only crawl and the warning naming Archive | Search Content View.
func TestArchiveWorksWithOnlyDirectoryArchiveAndContentView(t *testing.T) {
	opts := smallArchive()
	opts.Clients = []mimecastfake.ClientApp{{ID: mimecastfake.DefaultClientID, Secret: mimecastfake.DefaultClientSecret,
		Products: []string{mimecastfake.ProductDirectory, mimecastfake.ProductArchive, mimecastfake.ProductContentView}}}
	fake, url := streamtest.FakeTenant(t, opts)
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow())}, 20*time.Second)
	emails := archEmails(msgs)
	assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), archIDs(emails))
	for _, m := range emails {
		require.NoError(t, m.GetError())
		assert.True(t, decodeEmail(t, m).ContentAvailable)
	}
	for path, st := range fake.Stats().EndpointStatuses {
		assert.NotContains(t, st, 403, "%s was refused", path)
	}
}

// Without Directory nothing can be crawled: the input is not ready in /ready, naming why. (The
// threats tests show an input becoming ready again once the refusal is lifted.)
func TestArchiveWithoutDirectoryIsNotReady(t *testing.T) {
	opts := smallArchive()
	opts.Clients = []mimecastfake.ClientApp{{ID: mimecastfake.DefaultClientID, Secret: mimecastfake.DefaultClientSecret,
		Products: []string{mimecastfake.ProductArchive, mimecastfake.ProductContentView}}}
	_, url := streamtest.FakeTenant(t, opts)
	c := streamtest.NewCollector()
	b, _ := streamtest.ObservedBuilder(t, streamtest.StreamSpec{Input: archiveInputYAML(url, "")}, c)
	mux := http.NewServeMux()
	b.SetHTTPMux(mux)
	_, stop := streamtest.RunBuilt(t, b)
	defer stop()
	ready := func() (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ready", nil))
		return rec.Code, rec.Body.String()
	}
	// Not connected at once, and with the reason once Benthos asked the input to connect.
	require.Eventually(t, func() bool {
		code, body := ready()
		return code == http.StatusServiceUnavailable && strings.Contains(body, "crawling the archive")
	}, 10*time.Second, 20*time.Millisecond)
	_, body := ready()
	assert.Contains(t, body, "crawling the archive: listing internal domains")
	assert.Contains(t, body, "403")
	assert.Empty(t, c.Snapshot())
}
