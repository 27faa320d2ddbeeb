package mimecast

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// GET /threats/v1/events is API 2.0 only and its response schema is not published (the route is
// listed on the developer portal; only one generated client calls it). The decoder therefore accepts every shape seen or guessed: the list
// under data or events (or data.events / data.items), and the cursor under next, nextPage,
// @nextPage or meta.pagination.next.

const PathThreatEvents = "/threats/v1/events"

// maxRESTPageSize caps pageSize on the REST-style endpoints (threats, SIEM): 100 is what every
// integrator sends and the documented maximum of the threats endpoint.
const maxRESTPageSize = 100

// threatsTimeLayout is ISO 8601 with a zone, as the endpoint requires.
const threatsTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// ThreatEventsRequest filters GET /threats/v1/events. List filters are sent as repeated query
// parameters (analysis=malware&analysis=phishing).
type ThreatEventsRequest struct {
	Start     time.Time // timestampRangeStartsAt, required by the API
	End       time.Time // timestampRangeEndsAt; zero = now
	Analysis  []string  // malware | phishing | spam | suspicious | unwanted
	Status    []string  // blocked | rejected | delivered | held | bounced | unknown
	Source    []string  // email | url
	Direction string    // e.g. inbound
}

func (r ThreatEventsRequest) query(pageSize int, pageToken string) url.Values {
	q := restQuery{"timestampRangeStartsAt", "timestampRangeEndsAt", threatsTimeLayout}.values(r.Start, r.End, pageSize, pageToken)
	for _, v := range r.Analysis {
		q.Add("analysis", v)
	}
	for _, v := range r.Status {
		q.Add("status", v)
	}
	for _, v := range r.Source {
		q.Add("source", v)
	}
	if r.Direction != "" {
		q.Set("direction", r.Direction)
	}
	return q
}

// ThreatEvent is one threat event. Field names are best guesses; everything Mimecast sent is in
// Raw.
type ThreatEvent struct {
	RawRecord
	MimecastID string    `json:"id"`
	Timestamp  Time      `json:"timestamp"` // filled from eventTime / createdAt / ... when absent
	Analysis   TextList  `json:"analysis"`  // a single string is a list of one
	Status     string    `json:"status"`
	Source     string    `json:"source"`
	Direction  string    `json:"direction"`
	Subject    string    `json:"subject"`
	Sender     Address   `json:"sender"`
	Recipients []Address `json:"recipients"`
	MsgID      string    `json:"messageId"`
}

// threatTimeFields are tried in order when timestamp is missing.
var threatTimeFields = []string{"eventTime", "createdAt", "detectedAt", "receivedAt", "date", "time"}

// normalize runs after a successful decode, so Raw is valid JSON.
func (e *ThreatEvent) normalize() {
	// The field names of /threats/v1/events are unconfirmed: take flat senderAddress /
	// recipientAddress strings when the sender / recipients objects are absent.
	if e.Sender.EmailAddress == "" {
		if v, ok := validObjectMember(e.Raw, "senderAddress"); ok {
			var s string
			if json.Unmarshal(v, &s) == nil {
				e.Sender.EmailAddress = s
			}
		}
	}
	if len(e.Recipients) == 0 {
		if v, ok := validObjectMember(e.Raw, "recipientAddress"); ok {
			var s string
			if json.Unmarshal(v, &s) == nil && s != "" {
				e.Recipients = []Address{{EmailAddress: s}}
			}
		}
	}
	if !e.Timestamp.IsZero() {
		return
	}
	for _, f := range threatTimeFields {
		if v, ok := validObjectMember(e.Raw, f); ok {
			if t, err := ParseTime(v); err == nil {
				e.Timestamp = Time{t}
				return
			}
		}
	}
}

// ID is the event's id, or the content hash when it has none.
func (e ThreatEvent) ID() string { return e.idOrHash(e.MimecastID) }

// OwnID is the event's id as Mimecast sent it ("" without one).
func (e ThreatEvent) OwnID() string { return e.MimecastID }

// EventTime is when the threat was seen.
func (e ThreatEvent) EventTime() time.Time { return e.Timestamp.Time }

// MessageID is the Message-ID of the email, when the event has one.
func (e ThreatEvent) MessageID() string { return e.MsgID }

// ThreatEventsPage returns one page of threat events; pageToken is the previous page's Next.
func (c *Client) ThreatEventsPage(ctx context.Context, req ThreatEventsRequest, pageToken string) (Page[ThreatEvent], error) {
	size := min(c.PageSize(), maxRESTPageSize)
	var body json.RawMessage
	if err := c.GetJSON(ctx, PathThreatEvents, req.query(size, pageToken), &body); err != nil {
		return Page[ThreatEvent]{}, err
	}
	p, err := decodeThreatEventsBody(body, true)
	if err != nil {
		return Page[ThreatEvent]{}, fmt.Errorf("decoding %s: %w", PathThreatEvents, err)
	}
	return p, nil
}

// decodeThreatEventsBody reads a whole /threats/v1/events response body; known says it was
// already validated (GetJSON does). Its top-level members are found in one scan: decoding the
// body for the cursors and looking up each candidate list would pass over every record again.
// Cursor names fold and the last one counts, as when decoding into a struct.
func decodeThreatEventsBody(body json.RawMessage, known bool) (Page[ThreatEvent], error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return Page[ThreatEvent]{}, fmt.Errorf("expected a JSON object, got %s", truncateForError(body))
	}
	if !known && !json.Valid(body) {
		return Page[ThreatEvent]{}, fmt.Errorf("decoding threat events: %w", describeJSONError(body, json.Unmarshal(body, new(any))))
	}
	var data, events, meta []byte
	var next, nextPage, atNextPage flexString
	var total, metaTotal flexInt
	count := func(dst *flexInt, v []byte) {
		// A hint only: anything but a count leaves it unknown.
		if json.Unmarshal(v, dst) != nil || *dst < 0 {
			*dst = 0
		}
	}
	cursor := func(dst *flexString, v []byte) {
		// Tolerant: a null or a number is fine; anything else leaves the cursor empty.
		if json.Unmarshal(v, dst) != nil {
			*dst = ""
		}
	}
	objectMembers(body, func(name, value []byte) {
		switch {
		case bytes.EqualFold(name, []byte("data")):
			data = value
		case bytes.EqualFold(name, []byte("events")):
			events = value
		case bytes.EqualFold(name, []byte("meta")):
			meta = value
		case bytes.EqualFold(name, []byte("next")):
			cursor(&next, value)
		case bytes.EqualFold(name, []byte("nextPage")):
			cursor(&nextPage, value)
		case bytes.EqualFold(name, []byte("@nextPage")):
			cursor(&atNextPage, value)
		case bytes.EqualFold(name, []byte("total")):
			count(&total, value)
		}
	})
	var metaNext flexString
	if pag, ok := validObjectMember(meta, "pagination"); ok {
		if v, ok := validObjectMember(pag, "next"); ok {
			cursor(&metaNext, v)
		}
		if v, ok := validObjectMember(pag, "totalCount"); ok {
			count(&metaTotal, v)
		}
	}
	list, err := threatEventList(data, events)
	if err != nil {
		return Page[ThreatEvent]{}, err
	}
	items := decodeAll[ThreatEvent](list)
	nextToken := firstNonEmpty(string(atNextPage), string(nextPage), string(next), string(metaNext))
	if len(items) == 0 {
		nextToken = ""
	}
	return Page[ThreatEvent]{Items: items, Next: nextToken, Total: int(max(metaTotal, total))}, nil
}

// threatEventList finds the records in data or events (valid JSON): the list itself, or the list
// under its events or items.
func threatEventList(candidates ...[]byte) ([]json.RawMessage, error) {
	for _, v := range candidates {
		v = bytes.TrimSpace(v)
		if len(v) == 0 || string(v) == "null" {
			continue
		}
		if v[0] == '{' {
			for _, inner := range []string{"events", "items"} {
				if list, ok := validObjectMember(v, inner); ok {
					return splitValidArray(list)
				}
			}
			continue
		}
		return splitValidArray(v)
	}
	return nil, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
