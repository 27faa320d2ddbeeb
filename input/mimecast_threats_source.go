package input

import (
	"context"
	"time"
)

// threatRecord is one record of any feed, reduced to what the input needs to dedupe, select,
// filter and emit it. A record that could not be decoded has decodeErr set and only raw.
type threatRecord struct {
	raw        []byte
	id         string
	eventTime  time.Time
	messageID  string
	threatType string
	status     string
	source     string
	decodeErr  error
}

// emitFunc hands a chunk of records to the pipeline. commit, when not nil, is the state to save
// once this chunk and every earlier one are acknowledged: sources pass it with the last chunk
// of a page. It blocks while too many chunks of the source are unacknowledged.
type emitFunc func(ctx context.Context, records []threatRecord, commit *feedState) error

// threatSource is one pollable stream of records with its own checkpoint: a feed, or one part
// of a feed (a SIEM event type, the hold queue or the release log).
type threatSource interface {
	// name is the checkpoint key suffix and the name in logs, e.g. "url_protect", "siem_av".
	name() string
	// feed is the value of the `feeds` entry it belongs to (metadata mimecast_feed).
	feed() string
	// fetch reads the page after st, hands its records to emit, and returns the state after the
	// page. caughtUp means there is nothing more to read now: wait poll_interval.
	fetch(ctx context.Context, st feedState, emit emitFunc) (next feedState, caughtUp bool, err error)
	// start is the state of a first run: lookback, clamped to the source's retention.
	start(now time.Time, lookback time.Duration) feedState
}
