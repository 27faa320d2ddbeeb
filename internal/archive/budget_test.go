package archive

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mimecast-connect/mimecast-connect/internal/batchinput"
	"github.com/mimecast-connect/mimecast-connect/internal/mimecastfake"
	"github.com/mimecast-connect/mimecast-connect/internal/streamtest"
)

// budgetTenant is 4 mailboxes (of a local domain) of 12 emails, each with attachments around 64 KiB.
func budgetTenant(t *testing.T) (*mimecastfake.Server, string) {
	return streamtest.FakeTenant(t, mimecastfake.Options{Sizes: mimecastfake.Sizes{
		Domains: 1, UsersPerDomain: 4, MessagesPerMailbox: 12, AttachmentBytes: 64 << 10, EventsPerFeed: -1,
	}})
}

// heldCrawl is a crawl pass whose batches the test reads from the input and acknowledges itself.
type heldCrawl struct {
	t       *testing.T
	in      *archiveInput
	done    chan error
	unacked []batchinput.Batch
	emails  int // email documents read, acknowledged or not
}

func startHeldCrawl(t *testing.T, url, extra string) *heldCrawl {
	in := newTestArchiveInput(t, url, "extract_attachments: true\ninclude_local_domains: true\nmailbox_concurrency: 4\npage_size: 5\n"+archUntilNow()+extra)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	c := &heldCrawl{t: t, in: in, done: make(chan error, 1)}
	go func() {
		_, err := in.pass(ctx)
		c.done <- err
	}()
	return c
}

// readUntilStalled reads batches without acknowledging them until the crawl waits for the
// budget and nothing more comes.
func (c *heldCrawl) readUntilStalled() {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case b := <-c.in.queue.Batches():
			c.take(b)
		case <-time.After(200 * time.Millisecond):
			if c.in.budget.Waiting() > 0 {
				return
			}
		case <-deadline:
			c.t.Fatalf("the crawl neither stalled on the budget nor ended; %d emails read", c.emails)
		}
	}
}

// readAll reads n emails' batches without acknowledging them.
func (c *heldCrawl) readAll(n int) {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for c.emails < n {
		select {
		case b := <-c.in.queue.Batches():
			c.take(b)
		case <-deadline:
			c.t.Fatalf("%d of %d emails read", c.emails, n)
		}
	}
}

func (c *heldCrawl) take(b batchinput.Batch) {
	c.unacked = append(c.unacked, b)
	c.emails += len(archEmails(b.Batch))
}

// unackedBytes is the size of the messages read and not acknowledged.
func (c *heldCrawl) unackedBytes() int64 {
	var n int64
	for _, b := range c.unacked {
		for _, m := range b.Batch {
			raw, err := m.AsBytes()
			require.NoError(c.t, err)
			n += int64(len(raw))
		}
	}
	return n
}

func (c *heldCrawl) ackAll() {
	for _, b := range c.unacked {
		require.NoError(c.t, b.Ack(c.t.Context(), nil))
	}
	c.unacked = nil
}

// finish acknowledges everything and reads the rest of the pass, acknowledging as it goes.
func (c *heldCrawl) finish() {
	c.t.Helper()
	c.ackAll()
	for {
		select {
		case b := <-c.in.queue.Batches():
			c.take(b)
			c.ackAll()
		case err := <-c.done:
			require.NoError(c.t, err)
			return
		case <-time.After(10 * time.Second):
			c.t.Fatalf("the pass did not end; %d emails read", c.emails)
		}
	}
}

// checkpointed counts the mailboxes whose checkpoint reached the end of the pass.
func (c *heldCrawl) checkpointed(fake *mimecastfake.Server) int {
	n := 0
	for _, mb := range fake.Mailboxes() {
		st, ok, err := c.in.store.loadMailbox(c.t.Context(), mb)
		require.NoError(c.t, err)
		if ok && !st.Cursor.IsZero() {
			n++
		}
	}
	return n
}

func TestArchiveMaxBytesInFlightBoundsWhatWaitsForAcknowledgement(t *testing.T) {
	const limit = 512 << 10
	fake, url := budgetTenant(t)
	total := 4 * 12

	t.Run("bounded", func(t *testing.T) {
		c := startHeldCrawl(t, url, fmt.Sprintf("max_bytes_in_flight: %d\n", limit))
		c.readUntilStalled()
		held := c.unackedBytes()
		assert.LessOrEqual(t, held, int64(limit), "unacknowledged messages stay within max_bytes_in_flight")
		assert.Greater(t, held, int64(limit/2), "the crawl stopped because the budget was used, not before")
		assert.Less(t, c.emails, total, "the crawl waits for acknowledgements")
		assert.Zero(t, c.checkpointed(fake), "no checkpoint moves before its batches are acknowledged")

		c.finish()
		assert.Equal(t, total, c.emails, "every email, once acknowledgements come")
		assert.Equal(t, 4, c.checkpointed(fake))
		assert.Zero(t, c.in.budget.Held(), "every byte reserved was given back")
	})
	t.Run("0 is no limit", func(t *testing.T) {
		c := startHeldCrawl(t, url, "max_bytes_in_flight: 0\n")
		c.readAll(total)
		assert.Greater(t, c.unackedBytes(), int64(limit), "without the budget the whole crawl waits unacknowledged")
		c.finish()
	})
}

func TestArchiveEmailLargerThanMaxBytesInFlightIsFetchedAlone(t *testing.T) {
	fake, url := budgetTenant(t)
	c := startHeldCrawl(t, url, "max_bytes_in_flight: 1024\n")
	for want := 1; want <= 3; want++ {
		c.readUntilStalled()
		require.Equal(t, want, c.emails, "one email (with its attachments) at a time")
		c.ackAll()
	}
	c.finish()
	assert.Equal(t, 4*12, c.emails)
	assert.Equal(t, 4, c.checkpointed(fake))
}
