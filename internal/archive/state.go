package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/mimecast-connect/mimecast-connect/internal/checkpoint"
)

// archiveStateVersion is bumped when mailboxState changes incompatibly; a state of another
// version is not misread: the mailbox is crawled again from start_date, loudly.
const archiveStateVersion = 1

// ledgerSegmentSize is how many message ids a full ledger segment holds. The open segment (the
// tail) is rewritten with the mailbox state on every commit, so it must stay small; full
// segments are written once. A variable only so that tests can make segments fill quickly.
var ledgerSegmentSize = 2000

// ledgerRef locates a mailbox's ledger: every message id emitted for the mailbox (with its
// received time in Unix milliseconds), so that a re-crawl can tell which messages disappeared.
// Full segments live under their own keys (segmentKey); the tail lives in the state.
type ledgerRef struct {
	Gen      int              `json:"gen"`
	Segments int              `json:"segments"`
	Tail     map[string]int64 `json:"tail,omitempty"`
}

func (l ledgerRef) clone() ledgerRef {
	l.Tail = maps.Clone(l.Tail)
	return l
}

// mailboxState is one mailbox's checkpoint.
//
// Cursor: every message received up to it was crawled and acknowledged. A crawl reads the
// window [WindowFrom, WindowTo] page by page; Token is the next page of an unfinished window, so
// a restart resumes mid-mailbox. Seen holds the ids (with received times) of the messages near
// the cursor and of the last page read, so that the delta_offset overlap and pages repeated by
// the API are not emitted twice. Recrawl marks a window that re-reads everything: at its end
// OldLedger (what was emitted before) is compared with Ledger (what the re-crawl found).
type mailboxState struct {
	Version    int              `json:"version"`
	Mailbox    string           `json:"mailbox"`
	Cursor     time.Time        `json:"cursor,omitzero"`
	WindowFrom time.Time        `json:"window_from,omitzero"`
	WindowTo   time.Time        `json:"window_to,omitzero"`
	Token      string           `json:"token,omitempty"`
	Recrawl    bool             `json:"recrawl,omitempty"`
	Seen       map[string]int64 `json:"seen,omitempty"`
	Ledger     ledgerRef        `json:"ledger"`
	OldLedger  *ledgerRef       `json:"old_ledger,omitempty"`
}

func (s mailboxState) clone() mailboxState {
	s.Seen = maps.Clone(s.Seen)
	s.Ledger = s.Ledger.clone()
	if s.OldLedger != nil {
		old := s.OldLedger.clone()
		s.OldLedger = &old
	}
	return s
}

// inWindow reports whether a crawl window is under way.
func (s *mailboxState) inWindow() bool { return !s.WindowTo.IsZero() }

// archiveStore keeps mailbox states, ledger segments and the set of crawled mailboxes in a
// checkpoint.Store under flat keys derived from checkpoint_key.
type archiveStore struct {
	kv     *checkpoint.Store
	prefix string
}

func newArchiveStore(mgr *service.Resources, cacheName, prefix string) *archiveStore {
	return &archiveStore{kv: checkpoint.NewStore(mgr, cacheName), prefix: prefix}
}

// mailboxKey hashes the address: addresses hold characters a file cache cannot take, and the
// key must not reveal more than the cache's own access control protects anyway.
func (s *archiveStore) mailboxKey(mailbox string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(mailbox)))
	return s.prefix + "_" + hex.EncodeToString(sum[:10])
}

func (s *archiveStore) segmentKey(mailbox string, gen, k int) string {
	return s.mailboxKey(mailbox) + "_l" + strconv.Itoa(gen) + "_" + strconv.Itoa(k)
}

func (s *archiveStore) knownKey() string { return s.prefix + "_mailboxes" }

// errUnusableCheckpoint marks a saved state that was read but cannot be used (corrupt, another
// version, another mailbox): unlike a cache that cannot be reached, retrying will not help, so
// the mailbox starts over.
var errUnusableCheckpoint = errors.New("unusable checkpoint")

// loadMailbox returns the saved state of mailbox, and false when there is none.
func (s *archiveStore) loadMailbox(ctx context.Context, mailbox string) (mailboxState, bool, error) {
	key := s.mailboxKey(mailbox)
	raw, ok, err := s.kv.Get(ctx, key)
	if err != nil || !ok {
		return mailboxState{}, false, err
	}
	var st mailboxState
	if err := json.Unmarshal(raw, &st); err != nil {
		return mailboxState{}, false, fmt.Errorf("%w: decoding checkpoint %q of %s: %w", errUnusableCheckpoint, key, mailbox, err)
	}
	if st.Version != archiveStateVersion {
		return mailboxState{}, false, fmt.Errorf("%w: checkpoint %q of %s has version %d, this build reads %d", errUnusableCheckpoint, key, mailbox, st.Version, archiveStateVersion)
	}
	if !strings.EqualFold(st.Mailbox, mailbox) {
		return mailboxState{}, false, fmt.Errorf("%w: checkpoint %q belongs to %s, not %s (does another input share checkpoint_key?)", errUnusableCheckpoint, key, st.Mailbox, mailbox)
	}
	return st, true, nil
}

func (s *archiveStore) saveMailbox(ctx context.Context, st mailboxState) error {
	st.Version = archiveStateVersion
	raw, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding checkpoint of %s: %w", st.Mailbox, err)
	}
	return s.kv.Set(ctx, s.mailboxKey(st.Mailbox), raw)
}

func (s *archiveStore) saveSegment(ctx context.Context, mailbox string, gen, k int, ids map[string]int64) error {
	raw, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("encoding ledger segment of %s: %w", mailbox, err)
	}
	return s.kv.Set(ctx, s.segmentKey(mailbox, gen, k), raw)
}

// loadSegment reads one full ledger segment; a missing one is an error (the state names it).
func (s *archiveStore) loadSegment(ctx context.Context, mailbox string, gen, k int) (map[string]int64, error) {
	key := s.segmentKey(mailbox, gen, k)
	raw, ok, err := s.kv.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("ledger segment %q of %s is missing", key, mailbox)
	}
	var ids map[string]int64
	if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, fmt.Errorf("decoding ledger segment %q of %s: %w", key, mailbox, err)
	}
	return ids, nil
}

// dropSegments deletes the full segments of a ledger; every segment is tried and the first
// failure returned.
func (s *archiveStore) dropSegments(ctx context.Context, mailbox string, l ledgerRef) error {
	return s.dropSegmentsFrom(ctx, mailbox, l, 0)
}

// dropSegmentsFrom deletes the segments from..l.Segments-1 of a ledger.
func (s *archiveStore) dropSegmentsFrom(ctx context.Context, mailbox string, l ledgerRef, from int) error {
	var firstErr error
	for k := from; k < l.Segments; k++ {
		if err := s.kv.Delete(ctx, s.segmentKey(mailbox, l.Gen, k)); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// forgetMailbox deletes everything stored about a mailbox: its ledgers, then its state (last,
// so that an interrupted forget is finished by the next one).
func (s *archiveStore) forgetMailbox(ctx context.Context, st mailboxState) error {
	err := s.dropSegments(ctx, st.Mailbox, st.Ledger)
	if st.OldLedger != nil {
		if e := s.dropSegments(ctx, st.Mailbox, *st.OldLedger); err == nil {
			err = e
		}
	}
	if err != nil {
		return err
	}
	return s.kv.Delete(ctx, s.mailboxKey(st.Mailbox))
}

// knownMailboxes is the set of mailboxes in scope at the last crawl: a mailbox in it but no
// longer in scope gets its delete event.
type knownMailboxes struct {
	Version   int      `json:"version"`
	Mailboxes []string `json:"mailboxes"`
}

func (s *archiveStore) loadKnown(ctx context.Context) ([]string, error) {
	raw, ok, err := s.kv.Get(ctx, s.knownKey())
	if err != nil || !ok {
		return nil, err
	}
	var k knownMailboxes
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("decoding the mailbox set %q: %w", s.knownKey(), err)
	}
	if k.Version != archiveStateVersion {
		return nil, fmt.Errorf("the mailbox set %q has version %d, this build reads %d", s.knownKey(), k.Version, archiveStateVersion)
	}
	return k.Mailboxes, nil
}

func (s *archiveStore) saveKnown(ctx context.Context, mailboxes []string) error {
	list := slices.Clone(mailboxes)
	slices.Sort(list)
	raw, err := json.Marshal(knownMailboxes{Version: archiveStateVersion, Mailboxes: slices.Compact(list)})
	if err != nil {
		return fmt.Errorf("encoding the mailbox set: %w", err)
	}
	return s.kv.Set(ctx, s.knownKey(), raw)
}
