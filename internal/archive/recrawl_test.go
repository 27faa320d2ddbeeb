package archive

import (
	"context"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/batchinput"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// newTestArchiveInput builds the input from YAML fields without a stream, so a test can drive a
// crawl pass and hold acknowledgements itself.
func newTestArchiveInput(t *testing.T, url, extra string) *archiveInput {
	t.Helper()
	conf, err := Spec().ParseYAML(streamtest.ConnYAML(url)+extra, nil)
	require.NoError(t, err)
	mgr := service.MockResources()
	cfg, err := archiveConfigFromParsed(conf, mgr, time.Now())
	require.NoError(t, err)
	t.Cleanup(cfg.conn.Close)
	return newArchiveInput(cfg, mgr)
}

func TestArchiveDeletionConcurrencyBoundsMailboxesDeletedAtOnce(t *testing.T) {
	_, url := streamtest.FakeTenant(t, smallArchive())
	in := newTestArchiveInput(t, url, "include_mailboxes: ['^nobody$']\ndeletion_concurrency: 2\n")
	gone := []string{"a@x.test", "b@x.test", "c@x.test", "d@x.test", "e@x.test"}
	require.NoError(t, in.store.saveKnown(t.Context(), gone))

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := in.pass(ctx)
		done <- err
	}()
	next := func(wait time.Duration) (batchinput.Batch, bool) {
		select {
		case b := <-in.queue.Batches():
			return b, true
		case <-time.After(wait):
			return batchinput.Batch{}, false
		}
	}

	var held []batchinput.Batch
	for range 2 {
		b, ok := next(5 * time.Second)
		require.True(t, ok)
		held = append(held, b)
	}
	_, ok := next(100 * time.Millisecond)
	assert.False(t, ok, "a third mailbox is not deleted while two deletes wait for acknowledgement")

	deleted := map[string]bool{}
	for len(deleted) < len(gone) {
		b := held[0]
		held = held[1:]
		require.Len(t, b.Batch, 1)
		assert.Equal(t, opDelete, archMeta(b.Batch[0], metaOperation))
		deleted[archMeta(b.Batch[0], metaMailbox)] = true
		require.NoError(t, b.Ack(t.Context(), nil))
		if len(deleted)+len(held) < len(gone) {
			nb, ok := next(5 * time.Second)
			require.True(t, ok, "acknowledging one delete lets the next mailbox go")
			held = append(held, nb)
		}
	}
	require.NoError(t, <-done)
	known, err := in.store.loadKnown(t.Context())
	require.NoError(t, err)
	assert.Empty(t, known, "every deleted mailbox is forgotten")
}
