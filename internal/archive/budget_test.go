package archive

import (
	"context"
	"fmt"
	"sync/atomic"
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
	emails  int                 // email documents read, acknowledged or not
	docs    map[string][]string // email id: the hashes of its attachments read
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
	for _, m := range b.Batch {
		if c.docs == nil {
			c.docs = map[string][]string{}
		}
		id, _ := m.MetaGetMut(metaMessageID)
		key := id.(string)
		switch doc, _ := m.MetaGetMut(metaDocument); doc {
		case docEmail:
			_, seen := c.docs[key]
			assert.False(c.t, seen, "email %s read twice", key)
			c.docs[key] = append(c.docs[key], []string{}...)
		case docAttachment:
			parent, _ := m.MetaGetMut(metaParentID)
			sum, _ := m.MetaGetMut(metaAttSHA256)
			c.docs[parent.(string)] = append(c.docs[parent.(string)], sum.(string))
		}
	}
}

// documents are the email ids read with the hashes of the attachments read of each.
func (c *heldCrawl) documents() map[string][]string { return c.docs }

// sampleHeld watches the input's budget until the test ends and returns the most it saw held.
func (c *heldCrawl) sampleHeld() func() int64 {
	var peak atomic.Int64
	ctx, cancel := context.WithCancel(c.t.Context())
	c.t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			if h := c.in.budget.Held(); h > peak.Load() {
				peak.Store(h)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	return peak.Load
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

// crawlDocuments crawls the whole tenant, acknowledging as it goes, and returns the email ids
// with the attachment hashes each email's messages carried.
func crawlDocuments(t *testing.T, url, extra string) map[string][]string {
	t.Helper()
	c := startHeldCrawl(t, url, extra)
	c.finish()
	return c.documents()
}

func TestArchiveBudgetChargesWhatIsReadNotWhatTheSearchSays(t *testing.T) {
	const limit = 256 << 10
	fake, url := budgetTenant(t)
	want := crawlDocuments(t, url, fmt.Sprintf("max_bytes_in_flight: %d\n", limit))
	require.Len(t, want, 4*12)

	fake.SetFaults(mimecastfake.Faults{ArchiveReportedSize: 100})
	c := startHeldCrawl(t, url, fmt.Sprintf("max_bytes_in_flight: %d\n", limit))
	peak := c.sampleHeld()
	c.readUntilStalled()
	// A fetch charges the attachments it keeps while reading them: past the budget it gives
	// up and the email is fetched again alone, so what waits for acknowledgement stays within
	// the budget, plus the email documents charged once fetched.
	const slack = 64 << 10
	assert.LessOrEqual(t, c.unackedBytes(), int64(limit+slack), "unacknowledged messages stay within max_bytes_in_flight whatever the search's sizes")
	assert.Less(t, c.emails, 4*12, "the crawl waits for acknowledgements")
	c.finish()
	assert.LessOrEqual(t, peak(), int64(limit+slack), "what the fetches held never went past the budget")
	assert.Equal(t, want, c.documents(), "every email once, with all its attachments")
	assert.Zero(t, c.in.budget.Held(), "every byte charged was given back")
}
