package mimecast

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Record is what every feed record offers an input: a stable identity for de-duplication, the
// time the event happened, the email's Message-ID when the record carries one, and what Mimecast
// sent. A record whose DecodeErr is non-nil could not be decoded: only RawJSON and ID are
// meaningful, and the input should emit it as an error-flagged message rather than drop it.
type Record interface {
	ID() string
	EventTime() time.Time
	MessageID() string
	RawJSON() json.RawMessage
	DecodeErr() error
}

// RawRecord is embedded in every record type. Raw is the record's JSON exactly as Mimecast sent
// it (one element of the list, or one NDJSON line); Err is set when it could not be decoded, in
// which case every other field of the record is zero.
type RawRecord struct {
	Raw json.RawMessage `json:"-"`
	Err error           `json:"-"`

	// decoded: Raw went through json.Unmarshal without error, so it is valid JSON and its
	// content hash needs no second validation.
	decoded bool
	// contentID is the content hash, worked out while decoding for the record types that are
	// always identified by it (see identifiedByContent).
	contentID string
}

// identifiedByContent is implemented by the record types that carry no id of their own: their
// id is always the content hash, so decodeRecord works it out along with the decoding, which
// runs in parallel for the records of a page (decodeAll).
type identifiedByContent interface{ identifiedByContent() }

func (r *RawRecord) cacheContentID() {
	if r.decoded {
		r.contentID = hashHex(canonicalValidJSON(r.Raw))
	}
}

// RawJSON returns the record as Mimecast sent it.
func (r RawRecord) RawJSON() json.RawMessage { return r.Raw }

// DecodeErr returns why the record could not be decoded, or nil.
func (r RawRecord) DecodeErr() error { return r.Err }

func (r *RawRecord) setRaw(raw json.RawMessage, err error) {
	r.Raw = raw
	r.Err = err
	r.decoded = err == nil
}

// idOrHash is the project's identity rule: Mimecast's own id when the record has
// one, otherwise a hash of the record's content, because TTP logs and SIEM lines carry no id and
// are re-delivered across polls and pages.
func (r RawRecord) idOrHash(id string) string {
	if id != "" && r.Err == nil {
		return id
	}
	if r.contentID != "" {
		return r.contentID
	}
	if r.decoded {
		return hashHex(canonicalValidJSON(r.Raw))
	}
	return ContentHash(r.Raw)
}

// ContentHash is the SHA-256 (hex) of raw's canonical JSON: object keys sorted, no insignificant
// whitespace, strings re-escaped, numbers kept as written. The same record re-sent with another
// key order or spacing gets the same hash. Bytes that are not JSON are hashed as they are.
func ContentHash(raw []byte) string {
	return hashHex(canonicalJSON(raw))
}

func hashHex(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// recordPtr is satisfied by a pointer to any record type (they all embed RawRecord).
type recordPtr[T any] interface {
	*T
	setRaw(json.RawMessage, error)
	cacheContentID()
	DecodeErr() error
}

// normalizer is implemented by records that fold field variants after decoding (eventType into
// type, upper-case routes into lower case, ...). Raw is already set when normalize runs.
type normalizer interface {
	normalize()
}

// decodeRecord decodes one record tolerantly (see coerce.go). It never fails: a record that
// cannot be decoded comes back zero with Raw and Err set.
func decodeRecord[T any, P recordPtr[T]](raw json.RawMessage) T {
	var rec T
	raw = bytes.TrimSpace(raw)
	if err := decodeTolerant(raw, &rec); err != nil {
		rec = *new(T)
		P(&rec).setRaw(raw, err)
		return rec
	}
	P(&rec).setRaw(raw, nil)
	if n, ok := any(P(&rec)).(normalizer); ok {
		n.normalize()
	}
	if _, ok := any(P(&rec)).(identifiedByContent); ok {
		P(&rec).cacheContentID()
	}
	return rec
}

// parallelDecodeMin is the fewest records per goroutine worth splitting a page for.
const parallelDecodeMin = 32

// decodeAll decodes the records of a page. Decoding (and hashing the records that are identified
// by content) is most of the client's CPU per event, and a page holds hundreds of independent
// records: large pages are split across the processors, so that reading one feed is not held to
// one core while the next page is on its way.
func decodeAll[T any, P recordPtr[T]](elems []json.RawMessage) []T {
	out := make([]T, len(elems))
	workers := min(runtime.GOMAXPROCS(0), len(elems)/parallelDecodeMin)
	if workers <= 1 {
		for i, e := range elems {
			out[i] = decodeRecord[T, P](e)
		}
		return out
	}
	// Workers take small runs of records in turn rather than one fixed share each: the
	// goroutines share the cores with the next page's download, and a fixed share left a core
	// idle while the slower half finished.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				start := int(next.Add(decodeRun)) - decodeRun
				if start >= len(elems) {
					return
				}
				for i := start; i < min(start+decodeRun, len(elems)); i++ {
					out[i] = decodeRecord[T, P](elems[i])
				}
			}
		})
	}
	wg.Wait()
	return out
}

// decodeRun is how many records a decode worker takes at a time.
const decodeRun = 16

// decodeRecords decodes every element of a JSON array; one bad element does not affect the
// others.
func decodeRecords[T any, P recordPtr[T]](list json.RawMessage) ([]T, error) {
	elems, err := splitArray(list)
	if err != nil {
		return nil, err
	}
	return decodeAll[T, P](elems), nil
}

// decodeObject decodes a single-object response (message detail, account): there is no page to
// protect, so a decode failure is the call's error.
func decodeObject[T any, P recordPtr[T]](raw json.RawMessage) (*T, error) {
	rec := decodeRecord[T, P](raw)
	if err := P(&rec).DecodeErr(); err != nil {
		return nil, err
	}
	return &rec, nil
}

// Address is an email address as the /api/* endpoints write it ({emailAddress, displayableName});
// a bare string is accepted as the address.
type Address struct {
	EmailAddress    string `json:"emailAddress,omitempty"`
	DisplayableName string `json:"displayableName,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler.
func (a *Address) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*a = Address{}
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = Address{EmailAddress: s}
		return nil
	case b[0] == '{':
		// Field names vary between endpoints (emailAddress, email, address); keep the first found.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		*a = Address{
			EmailAddress:    firstString(m, "emailAddress", "email", "address"),
			DisplayableName: firstString(m, "displayableName", "displayName", "name"),
		}
		return nil
	default:
		// A number or a list where an address belongs: not worth failing the record over.
		*a = Address{}
		return nil
	}
}

// String returns the email address.
func (a Address) String() string { return a.EmailAddress }

func firstString(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		for mk, v := range m {
			if !strings.EqualFold(mk, k) {
				continue
			}
			var s string
			if json.Unmarshal(v, &s) == nil && s != "" {
				return s
			}
		}
	}
	return ""
}

// errNotObject marks a list element that is not a JSON object (null, a string, a number).
var errNotObject = errors.New("record is not a JSON object")

// Every feed record satisfies Record.
var (
	_ Record = URLClick{}
	_ Record = AttachmentLog{}
	_ Record = ImpersonationLog{}
	_ Record = HeldMessage{}
	_ Record = HeldReleaseLog{}
	_ Record = ThreatEvent{}
	_ Record = SIEMEvent{}
	_ Record = InternalDomain{}
	_ Record = InternalUser{}
	_ Record = ArchiveItem{}
	_ Record = ArchiveMessage{}
	_ Record = MessageDetail{}
	_ Record = TrackedEmail{}
	_ Record = MessageInfo{}
)

// OwnID is the id a record carries of its own ("" for records without one, such as click logs
// and SIEM lines, and for records that could not be decoded).
func OwnID(r Record) string {
	if r.DecodeErr() != nil {
		return ""
	}
	if o, ok := r.(interface{ OwnID() string }); ok {
		return o.OwnID()
	}
	return ""
}

// ContentID is the id under which the archive's content endpoints take the email a record is
// about, for records that carry one (held messages); "" for the others, whose email is found by
// its Message-ID.
func ContentID(r Record) string {
	if r.DecodeErr() != nil {
		return ""
	}
	if o, ok := r.(interface{ ContentID() string }); ok {
		return o.ContentID()
	}
	return ""
}

// EventKey identifies one event of a record. A Mimecast id names a detection or a policy hit,
// which several events may share (two impersonation log entries of one id, minutes apart, for
// two messages): a record with an id of its own is the id at its time for its message, as the
// SHA-256 of the three. A record without one is its ID (the hash of its canonical JSON).
func EventKey(r Record) string {
	id := OwnID(r)
	if id == "" {
		return r.ID()
	}
	var at string
	if t := r.EventTime(); !t.IsZero() {
		at = t.UTC().Format(time.RFC3339Nano)
	}
	return ContentHash([]byte(id + "\x00" + at + "\x00" + r.MessageID()))
}
