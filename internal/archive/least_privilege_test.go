package archive

import (
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
