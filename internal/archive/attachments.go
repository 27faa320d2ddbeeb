package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"

	"github.com/mimecast-connect/mimecast-connect/internal/email"
)

// attachmentCollector hashes every attachment and keeps the ones to extract. A kept attachment
// is read straight into one buffer sized from the bytes left in the message, so it is never
// copied; one over max_attachment_size is streamed past (hashed, counted, not kept).
type attachmentCollector struct {
	in        *archiveInput
	raw       *countingReader // the RFC 822 stream, to estimate what is left of it
	total     int64           // the message's size from the search hit; 0 when unknown
	grant     *grant          // what the fetch holds of the budget; kept bytes are charged to it
	entries   []attachmentEntry
	extracted []extractedAttachment
	scratch   []byte
}

type extractedAttachment struct {
	entry attachmentEntry
	data  []byte
}

func (c *attachmentCollector) add(a *email.Attachment) error {
	cfg := c.in.cfg
	name := a.Name
	if name == "" {
		name = cfg.blankAttName
	}
	entry := attachmentEntry{Index: a.Index, Name: name, ContentType: a.ContentType, ContentID: a.ContentID, Inline: a.Inline}
	excluded := matchesAny(cfg.excludeAttNames, name)
	keep := cfg.extract && !excluded
	var data []byte
	if keep {
		data = make([]byte, 0, c.estimate(a.Encoding))
	}
	if c.scratch == nil {
		c.scratch = make([]byte, attachmentRead)
	}
	h := sha256.New()
	var n int64
	tooLarge := false
	for {
		k, err := a.Body.Read(c.scratch)
		if k > 0 {
			h.Write(c.scratch[:k])
			n += int64(k)
			if keep && cfg.maxAttSize > 0 && n > cfg.maxAttSize {
				keep, tooLarge, data = false, true, nil
			}
			if keep {
				if !c.grant.charge(int64(k)) {
					return errOverReservation
				}
				data = append(data, c.scratch[:k]...)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	entry.Size, entry.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	switch {
	case excluded:
		entry.Skipped = skipExcluded
		c.in.metrics.attachmentsSkipped.Incr(1, skipExcluded)
	case tooLarge:
		entry.Skipped = skipTooLarge
		c.in.metrics.attachmentsSkipped.Incr(1, skipTooLarge)
		c.in.log.Infof("skipping attachment %q (%d bytes, over max_attachment_size %d)", name, n, cfg.maxAttSize)
	case keep:
		entry.Extracted = true
		// The buffer was sized for the rest of the message: for all but its last attachment
		// that is too much, and a message would keep the whole of it.
		if waste := cap(data) - len(data); waste > attachmentRead && waste > len(data)/4 {
			data = bytes.Clone(data)
		}
		c.extracted = append(c.extracted, extractedAttachment{entry: entry, data: data})
	}
	c.entries = append(c.entries, entry)
	return nil
}

// estimate is an upper bound of an attachment's decoded size: what is left of the message
// (base64 shrinks it by a quarter), capped by max_attachment_size.
func (c *attachmentCollector) estimate(encoding string) int {
	const minBuf, maxGuess = 4 << 10, 64 << 20
	est := int64(64 << 10)
	if c.total > 0 {
		est = max(c.total-c.raw.n, 0) + 64<<10 // the parser reads ahead of the part
		if encoding == "base64" {
			est = est*3/4 + 4<<10
		}
	}
	if limit := c.in.cfg.maxAttSize; limit > 0 {
		est = min(est, limit+1)
	}
	return int(min(max(est, minBuf), maxGuess))
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
