package mimecast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// APITimeLayout is how the /api/* endpoints write times (2024-11-17T20:16:00+0000), and how this
// client sends them: it is the layout of Mimecast's own documentation.
const APITimeLayout = "2006-01-02T15:04:05-0700"

// siemStreamTimeLayout is the layout the SIEM stream endpoint accepts (millis and a literal Z).
const siemStreamTimeLayout = "2006-01-02T15:04:05.000Z"

// siemBatchDateLayout is the date-only layout of the SIEM batch endpoint's range.
const siemBatchDateLayout = "2006-01-02"

// timeLayouts are tried in order. Mimecast mixes -0700 (/api/*), Z07:00 (presigned expiry, STIX)
// and dates; RFC 1123 shows up in message header dates. A layout without a zone means UTC.
var timeLayouts = []string{
	APITimeLayout, // time.Parse also accepts fractional seconds the layout does not show
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05-0700",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	siemBatchDateLayout,
	time.RFC1123Z,
	time.RFC1123,
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
}

// ErrEmptyTime is returned by ParseTime for nil, "" and JSON null: no time was given.
var ErrEmptyTime = errors.New("empty time value")

// ParseTime reads any time representation Mimecast uses: a string in one of the layouts above,
// or epoch milliseconds as a JSON number or a numeric string (SIEM events). v may be a string,
// []byte, json.Number, json.RawMessage, any Go number, time.Time or Time. Parsed times are in
// UTC, so that equal instants compare equal and format alike.
func ParseTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, ErrEmptyTime
	case time.Time:
		return x, nil
	case Time:
		return x.Time, nil
	case string:
		return parseTimeString(x)
	case []byte:
		return parseTimeString(string(x))
	case json.RawMessage:
		return parseTimeJSON(x)
	case json.Number:
		return parseTimeString(string(x))
	case float64:
		return epochMillisFloat(x)
	case float32:
		return epochMillisFloat(float64(x))
	case int:
		return time.UnixMilli(int64(x)).UTC(), nil
	case int64:
		return time.UnixMilli(x).UTC(), nil
	case int32:
		return time.UnixMilli(int64(x)).UTC(), nil
	case uint64:
		if x > math.MaxInt64 {
			return time.Time{}, fmt.Errorf("epoch milliseconds %d out of range", x)
		}
		return time.UnixMilli(int64(x)).UTC(), nil
	default:
		return time.Time{}, fmt.Errorf("parsing time: unsupported type %T", v)
	}
}

func parseTimeJSON(b []byte) (time.Time, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return time.Time{}, ErrEmptyTime
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return time.Time{}, fmt.Errorf("parsing time %s: %w", truncateForError(b), err)
		}
		return parseTimeString(s)
	}
	return parseTimeString(string(b))
}

func parseTimeString(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, ErrEmptyTime
	}
	if looksNumeric(s) {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.UnixMilli(n).UTC(), nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("parsing time %q: %w", truncateForError([]byte(s)), err)
		}
		return epochMillisFloat(f)
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("parsing time %q: no known layout matches", truncateForError([]byte(s)))
}

// looksNumeric is true for an optionally signed decimal, possibly with a fraction or exponent;
// a date such as 2024-01-02 is not numeric because of its inner dashes.
func looksNumeric(s string) bool {
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	if s == "" || s[0] < '0' || s[0] > '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c == '.':
		case (c == 'e' || c == 'E') && i+1 < len(s):
			if s[i+1] == '-' || s[i+1] == '+' {
				i++
			}
		default:
			return false
		}
	}
	return true
}

func epochMillisFloat(f float64) (time.Time, error) {
	// ±2^62 ms is far beyond any real time and keeps the conversion exact-enough and in range.
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<62 {
		return time.Time{}, fmt.Errorf("epoch milliseconds %v out of range", f)
	}
	ms := math.Floor(f)
	ns := int64(math.Round((f - ms) * 1e6))
	return time.UnixMilli(int64(ms)).Add(time.Duration(ns)).UTC(), nil
}

// Time is a time.Time that decodes from every representation ParseTime accepts; null and ""
// decode to the zero time. It encodes as RFC 3339 with nanoseconds (null when zero).
type Time struct {
	time.Time
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	v, err := parseTimeJSON(b)
	if errors.Is(err, ErrEmptyTime) {
		t.Time = time.Time{}
		return nil
	}
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(time.RFC3339Nano) + `"`), nil
}

// formatAPITime writes t the way Mimecast documents request times; the zero time is "" so that
// the field is omitted and the API applies its default.
func formatAPITime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(APITimeLayout)
}

// truncateForError keeps error messages short when a field holds something huge.
func truncateForError(b []byte) string {
	const limit = 64
	if len(b) <= limit {
		return string(b)
	}
	return string(b[:limit]) + "..."
}
