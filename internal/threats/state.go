package threats

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/checkpoint"
)

// checkpointVersion is bumped when feedState changes incompatibly; an unknown version is ignored
// with a warning (the feed restarts at its lookback) rather than misread.
const checkpointVersion = 1

// feedState is one source's checkpoint. Time-window sources read the window [WindowFrom,
// WindowTo) in slices: Slices are the slices being read, each with the token of its next page,
// and SliceNext is where the next slice opens (WindowTo once every slice is open). For a window
// source Cursor is where reading is complete up to: the end of the last window read whole (the
// next starts at Cursor - overlap) or, inside a window, the start of its oldest open slice; for
// SIEM it is the newest event time read, and Token is the next @nextPage. Seen holds the ids of
// the events of the slices being read and of the overlap, with their times in Unix
// milliseconds, so that repeats across pages and slices, a re-read of the overlap or a replay
// after a crash are not emitted twice.
//
// A window longer than backfill_slice starts as one slice with Probe set: its first page says
// whether (and, by the count of records it reports, into what SliceSpan) to cut it.
//
// A checkpoint of an earlier build names one window with Token and no slices: it is read on as
// the window's one slice.
//
// Inside a SIEM listing page, Done names the files of the page at Token that were delivered
// whole, and File and Line the file being read and how many of its lines were delivered: a page
// read again skips them.
type feedState struct {
	Version    int              `json:"version"`
	Cursor     time.Time        `json:"cursor"`
	WindowFrom time.Time        `json:"window_from,omitzero"`
	WindowTo   time.Time        `json:"window_to,omitzero"`
	Token      string           `json:"token,omitempty"`
	Slices     []sliceState     `json:"slices,omitempty"`
	SliceNext  time.Time        `json:"slice_next,omitzero"`
	SliceSpan  time.Duration    `json:"slice_span,omitempty"` // of the slices opened next; 0: to the window's end
	Probe      bool             `json:"probe,omitempty"`      // the one slice is the window's first page, asked to size the slices`
	Done       []string         `json:"files_done,omitempty"`
	File       string           `json:"file,omitempty"`
	Line       int64            `json:"line,omitempty"`
	Seen       map[string]int64 `json:"seen,omitempty"`
}

func (s feedState) clone() feedState {
	s.Seen = maps.Clone(s.Seen)
	s.Done = slices.Clone(s.Done)
	s.Slices = slices.Clone(s.Slices)
	return s
}

// sliceState is one slice of a window being read: [From, To), and the token of its next page
// (empty: its first).
type sliceState struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Token string    `json:"token,omitempty"`
}

// prune forgets ids of events older than horizon: they can no longer be read again.
func (s *feedState) prune(horizon time.Time) {
	h := horizon.UnixMilli()
	maps.DeleteFunc(s.Seen, func(_ string, t int64) bool { return t < h })
}

// checkpointStore loads and saves feed states, in a cache resource when one is configured and in
// memory otherwise (see checkpoint.Store).
type checkpointStore struct {
	kv     *checkpoint.Store
	prefix string
}

func newCheckpointStore(mgr *service.Resources, cacheName, prefix string) *checkpointStore {
	return &checkpointStore{kv: checkpoint.NewStore(mgr, cacheName), prefix: prefix}
}

func (c *checkpointStore) key(source string) string { return c.prefix + "_" + source }

// load returns the saved state of source, and false when there is none (first run).
func (c *checkpointStore) load(ctx context.Context, source string) (feedState, bool, error) {
	key := c.key(source)
	raw, ok, err := c.kv.Get(ctx, key)
	if err != nil || !ok {
		return feedState{}, false, err
	}
	var st feedState
	if err := json.Unmarshal(raw, &st); err != nil {
		return feedState{}, false, fmt.Errorf("decoding checkpoint %q: %w", key, err)
	}
	if st.Version != checkpointVersion {
		return feedState{}, false, fmt.Errorf("checkpoint %q has version %d, this build reads %d", key, st.Version, checkpointVersion)
	}
	return st, true, nil
}

// save writes source's state.
func (c *checkpointStore) save(ctx context.Context, source string, st feedState) error {
	st.Version = checkpointVersion
	raw, err := encodeState(st)
	if err != nil {
		return fmt.Errorf("encoding checkpoint: %w", err)
	}
	return c.kv.Set(ctx, c.key(source), raw)
}

// encodeState is st as JSON, as json.Marshal writes it but for the order of the seen ids. A
// backlog read in slices keeps tens of thousands of them, and the checkpoint is written after
// every acknowledged page: json.Marshal sorts a map's keys, which made the saves the larger part
// of a drain's CPU. Any JSON decoder reads the ids in any order.
func encodeState(st feedState) ([]byte, error) {
	seen := st.Seen
	st.Seen = nil
	raw, err := json.Marshal(st)
	if err != nil || len(seen) == 0 {
		return raw, err
	}
	buf := make([]byte, 0, len(raw)+len(seen)*48)
	buf = append(buf, raw[:len(raw)-1]...) // the object without its closing brace; it has a version
	buf = append(buf, `,"seen":{`...)
	first := true
	for id, t := range seen {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		if buf, err = appendJSONString(buf, id); err != nil {
			return nil, err
		}
		buf = append(buf, ':')
		buf = strconv.AppendInt(buf, t, 10)
	}
	return append(buf, "}}"...), nil
}

// appendJSONString appends s as a JSON string: as it is between quotes when it is printable
// ASCII without a quote or a backslash (every id Mimecast and this input make), through
// json.Marshal otherwise.
func appendJSONString(buf []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			return append(buf, q...), err
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"'), nil
}
