package mimecastfake

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Page sizes of /api/* lists: 25 is the documented default and 500 as the
// largest size integrators use; larger requests are clamped rather than refused.
const (
	defaultPageSize = 25
	maxPageSize     = 500
)

// pageCursor is the state carried in an opaque page token. It pins the request it belongs to
// (Fingerprint) and the moment the crawl started (AsOf), so records that arrive during a crawl
// cannot shift offsets: every matching record is served exactly once.
type pageCursor struct {
	Version     int    `json:"v"`
	Fingerprint string `json:"f"`
	AsOf        int64  `json:"h"` // unix ms
	Pos         int    `json:"c"` // next step of the walk to examine
	Prev        int    `json:"p"` // record index last served, -1 before the first page
	Served      int    `json:"s"`
	Total       int    `json:"t"`
}

const cursorVersion = 1

var errBadPageToken = errors.New("page token is invalid or does not belong to this request")

// newCursor starts a crawl at now.
func newCursor(fingerprint string, now time.Time) pageCursor {
	return pageCursor{Version: cursorVersion, Fingerprint: fingerprint, AsOf: now.UnixMilli(), Prev: -1, Total: -1}
}

// openCursor resumes the crawl of token, or starts one when token is empty.
func openCursor(token, fingerprint string, now time.Time) (pageCursor, error) {
	if token == "" {
		return newCursor(fingerprint, now), nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return pageCursor{}, errBadPageToken
	}
	var c pageCursor
	if err := json.Unmarshal(raw, &c); err != nil || c.Version != cursorVersion || c.Fingerprint != fingerprint || c.Pos < 0 {
		return pageCursor{}, errBadPageToken
	}
	return c, nil
}

func (c pageCursor) horizon() time.Time { return time.UnixMilli(c.AsOf).UTC() }

func (c pageCursor) token() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// fingerprint identifies a list request by endpoint and its parsed filters, so a token is only
// accepted for the request that produced it (a client that changes filters mid-crawl gets a
// fail instead of silently mixed results).
func fingerprint(endpoint string, filter any) string {
	b, _ := json.Marshal(filter)
	h := fnv.New64a()
	h.Write([]byte(endpoint))
	h.Write([]byte{0})
	h.Write(b)
	return strconv.FormatUint(h.Sum64(), 36)
}

// recordWalk is the set of records a request matches: indices [lo, hi) of a feed whose times
// are non-decreasing in the index, visited newest first unless oldestFirst, kept when match
// (nil = all) accepts them.
type recordWalk struct {
	lo, hi      int
	oldestFirst bool
	match       func(i int) bool
}

func (w recordWalk) steps() int { return max(0, w.hi-w.lo) }

func (w recordWalk) index(step int) int {
	if w.oldestFirst {
		return w.lo + step
	}
	return w.hi - 1 - step
}

// count is O(1) without a filter and an allocation-free scan with one.
func (w recordWalk) count() int {
	if w.match == nil {
		return w.steps()
	}
	n := 0
	for k := range w.steps() {
		if w.match(w.index(k)) {
			n++
		}
	}
	return n
}

// pageOut is one page of a walk: the record indices to render and the pagination to report.
type pageOut struct {
	indices []int
	total   int
	next    string // empty on the last page
}

// nextPage advances cur over w by up to size records. dupPrev repeats the previous page's last
// record first (fault DuplicateAcrossPages); it is not counted as served.
func nextPage(cur pageCursor, w recordWalk, size int, dupPrev bool) pageOut {
	if cur.Total < 0 {
		cur.Total = w.count()
	}
	out := pageOut{total: cur.Total, indices: make([]int, 0, min(size+1, max(0, cur.Total-cur.Served)+1))}
	if dupPrev && cur.Prev >= 0 {
		out.indices = append(out.indices, cur.Prev)
	}
	n := 0
	k := cur.Pos
	for ; k < w.steps() && n < size; k++ {
		i := w.index(k)
		if w.match != nil && !w.match(i) {
			continue
		}
		out.indices = append(out.indices, i)
		cur.Prev = i
		n++
	}
	cur.Pos = k
	cur.Served += n
	if cur.Served < cur.Total && cur.Pos < w.steps() {
		out.next = cur.token()
	}
	return out
}

// parsePageSize reads meta.pagination.pageSize (a number or a numeric string) with the
// default and cap of /api/* lists.
func parsePageSize(n json.Number, def, limit int) (int, error) {
	if n == "" {
		return def, nil
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(n)))
	if err != nil {
		return 0, fmt.Errorf("pageSize %q is not a whole number", string(n))
	}
	if v <= 0 {
		return def, nil
	}
	return min(v, limit), nil
}

// apiTimeLayouts are the request time formats the fake accepts: the documented
// 2011-12-03T10:15:30+0000, the +00:00 and Z forms clients send, with or without fractions,
// and a bare date.
var apiTimeLayouts = []string{
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05.999999999-0700",
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02",
}

// parseAPITime parses a request time in any accepted layout.
func parseAPITime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range apiTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a valid date-time (expected e.g. 2011-12-03T10:15:30+0000)", s)
}

// apiTime is the response time layout of /api/* bodies.
const apiTimeLayout = "2006-01-02T15:04:05-0700"

func formatAPITime(t time.Time) string { return t.UTC().Format(apiTimeLayout) }

// timeRange resolves optional from/to strings against defaults; field names are reported in
// errors so the fail entry can say which one was wrong.
func timeRange(fromField, from, toField, to string, defFrom, defTo time.Time) (time.Time, time.Time, string, error) {
	f, t := defFrom, defTo
	if from != "" {
		v, err := parseAPITime(from)
		if err != nil {
			return f, t, fromField, err
		}
		f = v
	}
	if to != "" {
		v, err := parseAPITime(to)
		if err != nil {
			return f, t, toField, err
		}
		t = v
	}
	if t.Before(f) {
		return f, t, toField, fmt.Errorf("%s must not be before %s", toField, fromField)
	}
	return f, t, "", nil
}

// startOfDay is the documented default "from" of the TTP logs: the start of the current day.
func startOfDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
