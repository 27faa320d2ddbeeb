package input

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestArchiveCrawlsEveryMailboxOfTheDomainsThenEnds(t *testing.T) {
	fake, url := fakeTenant(t, smallArchive())
	msgs := archRunToEnd(t, archiveStream{input: archiveInputYAML(url, archUntilNow())}, 20*time.Second)

	got := archEmails(msgs)
	assert.ElementsMatch(t, archAllIDs(fake, ordinaryDomain), archIDs(got), "every message of the ordinary domain, once; the local domain is out by default")
	for _, m := range got {
		require.NoError(t, m.GetError())
		doc := decodeEmail(t, m)
		assert.True(t, doc.ContentAvailable)
		assert.Equal(t, archMeta(m, metaMailbox), doc.Mailbox)
		assert.NotEmpty(t, doc.MessageID)
		assert.NotEmpty(t, doc.Text)
	}
}
