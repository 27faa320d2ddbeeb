package threats

import (
	"context"
	"iter"
	"time"
)

// threatRecord is one record of any feed, reduced to what the input needs to dedupe, select,
// filter and emit it. A record that could not be decoded has decodeErr set and only raw.
type threatRecord struct {
	raw        []byte
	id         string // the event's key: what dedupes it, and mimecast_event_id
	recordID   string // the record's own Mimecast id, when it has one: mimecast_record_id
	eventTime  time.Time
	messageID  string
	contentID  string // the id the archive's content endpoints take, when the record has one
	threatType string
	status     string
	source     string
	decodeErr  error
}

// chunk is one step of a source's read: records to emit, and the read state after them when it
// moves. A source yields the records of a page (or of part of a SIEM file) as chunks, in order.
type chunk struct {
	records []threatRecord
	// state, when set, is where the next read starts. With commit it is also the state to save
	// once this chunk and every earlier one were acknowledged: sources commit with the last
	// chunk of a page.
	state    *feedState
	commit   bool
	caughtUp bool // nothing more to read now: wait poll_interval
}

// threatSource is one pollable stream of records with its own checkpoint: a feed, or one part
// of a feed (a SIEM event type, the hold queue or the release log).
type threatSource interface {
	// name is the checkpoint key suffix and the name in logs, e.g. "url_protect", "siem_av".
	name() string
	// feed is the value of the `feeds` entry it belongs to (metadata mimecast_feed).
	feed() string
	// read reads the page after st and yields its chunks; an error ends the read. The caller may
	// stop early (a nack reset the read state): the source then stops reading.
	read(ctx context.Context, st feedState) iter.Seq2[chunk, error]
	// start is the state of a first run: lookback, clamped to the source's retention.
	start(now time.Time, lookback time.Duration) feedState
}
