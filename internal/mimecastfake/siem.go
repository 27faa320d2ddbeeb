package mimecastfake

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

func (s *Server) routesSIEM() {
	s.handleREST("GET /siem/v1/batch/events/cg", "/siem/v1/batch/events/cg", ProductSIEM, s.siemBatchList)
	s.handleREST("GET /siem/v1/events/cg", "/siem/v1/events/cg", ProductSIEM, s.siemStream)
	s.handlePublic("GET "+siemFilesPrefix+"{file}", siemFilesPrefix, s.siemFile)
}

const (
	siemMaxPageSize = 100
	// siemValidation is the error code the SIEM endpoints use for bad parameters (gravwell's fake).
	siemValidation = "Request Validation Failed"
	// siemDateLayout is the batch endpoint's date-only range format; siemTimeLayout the stream's.
	siemDateLayout = "2006-01-02"
	siemTimeLayout = "2006-01-02T15:04:05.000Z"
)

// siemCursor holds one position per SIEM type (-1 = not started). It is what @nextPage encodes:
// base64 of "receipt=500,av=0,...", in the spirit of the per-partition offsets integrators have
// seen in real tokens. Types are independent, so a client may page one type at a time with a
// single token.
type siemCursor [len(siemTypes)]int

func newSIEMCursor() siemCursor {
	var c siemCursor
	for i := range c {
		c[i] = -1
	}
	return c
}

func (c siemCursor) token(kind string) string {
	var b strings.Builder
	b.WriteString(kind)
	for ti, v := range c {
		if v >= 0 {
			fmt.Fprintf(&b, "|%s=%d", siemTypes[ti], v)
		}
	}
	return base64.StdEncoding.EncodeToString([]byte(b.String()))
}

func parseSIEMCursor(kind, tok string) (siemCursor, bool) {
	c := newSIEMCursor()
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return c, false
	}
	parts := strings.Split(string(raw), "|")
	if parts[0] != kind {
		return c, false
	}
	for _, p := range parts[1:] {
		name, val, ok := strings.Cut(p, "=")
		ti := siemTypeIndex(name)
		v, err := strconv.Atoi(val)
		if !ok || ti < 0 || err != nil || v < 0 {
			return c, false
		}
		c[ti] = v
	}
	return c, true
}

// siemPageSize reads pageSize: 1..100, default 100 (every public client uses 100).
func siemPageSize(q url.Values) (int, error) {
	v := q.Get("pageSize")
	if v == "" {
		return siemMaxPageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > siemMaxPageSize {
		return 0, fmt.Errorf("pageSize must be a whole number between 1 and %d", siemMaxPageSize)
	}
	return n, nil
}

// batchEntry is one element of the listing's value[].
type batchEntry struct {
	URL    string `json:"url"`
	Expiry string `json:"expiry"`
	Size   int    `json:"size"`
}

// siemBatchList serves GET /siem/v1/batch/events/cg (Mimecast API 2.0): type, optional date-only
// dateRangeStartsAt/EndsAt, pageSize, nextPage. @nextPage is always present, also when caught
// up, so a client resumes from it on the next poll.
func (s *Server) siemBatchList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	types := make([]int, 0, len(siemTypes))
	if t := q.Get("type"); t != "" {
		ti := siemTypeIndex(t)
		if ti < 0 {
			writeSIEMError(w, http.StatusBadRequest, siemValidation, fmt.Sprintf("Invalid type %q", t))
			return
		}
		types = append(types, ti)
	} else {
		for ti := range siemTypes {
			types = append(types, ti)
		}
	}
	size, err := siemPageSize(q)
	if err != nil {
		writeSIEMError(w, http.StatusBadRequest, siemValidation, err.Error())
		return
	}
	var startMs, endMs int64
	for _, p := range []struct {
		name string
		dst  *int64
		add  time.Duration
	}{{"dateRangeStartsAt", &startMs, 0}, {"dateRangeEndsAt", &endMs, 24 * time.Hour}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		d, err := time.Parse(siemDateLayout, v)
		if err != nil {
			writeSIEMError(w, http.StatusBadRequest, siemValidation, fmt.Sprintf("Invalid %s %q: expected format YYYY-MM-DD", p.name, v))
			return
		}
		*p.dst = d.Add(p.add).UnixMilli() // the end date is inclusive
	}
	if startMs > 0 && endMs > 0 && endMs <= startMs {
		writeSIEMError(w, http.StatusBadRequest, siemValidation, "Invalid date range: dateRangeEndsAt is before dateRangeStartsAt")
		return
	}
	cur := newSIEMCursor()
	if tok := q.Get("nextPage"); tok != "" {
		c, ok := parseSIEMCursor("cg-batch", tok)
		if !ok {
			writeSIEMError(w, http.StatusBadRequest, siemValidation, "Invalid nextPage token")
			return
		}
		cur = c
	}

	now := s.now()
	files, cur, caughtUp := s.siemBatchPage(types, cur, startMs, endMs, size, now.UnixMilli())
	next := cur.token("cg-batch")
	if tok := q.Get("nextPage"); tok != "" {
		switch {
		case len(files) > 0 && s.takeFault(faultSIEMStalls):
			// The same files again, and the same token to come back with: a listing stuck.
			next, caughtUp = tok, false
		default:
			if back := s.cycleBack("siem-batch|"+q.Get("type"), tok); back != "" {
				next, caughtUp = back, false
			}
		}
	}

	issued := now
	// A page without files has no URL to expire: the fault waits for one that has, as the
	// file faults below wait for a file.
	if len(files) > 0 && s.takeFault(faultExpiredURLs) {
		issued = now.Add(-s.siemURLTTL() - time.Minute)
	}
	entries := make([]batchEntry, 0, len(files)+1)
	for _, f := range files {
		if s.takeFault(faultTruncatedGzip) {
			f.flags |= fileTruncated
		}
		if s.takeFault(faultMalformedLines) {
			f.flags |= fileMalformed
		}
		u, exp := s.signFileURL(r, f, issued)
		entries = append(entries, batchEntry{URL: u, Expiry: exp.UTC().Format(siemTimeLayout), Size: estimateFileSize(f)})
	}
	if len(entries) > 0 && s.takeFault(faultDuplicateURLs) {
		// The same URL twice on one page, as rapid7 has seen (it de-dupes with OrderedDict).
		entries = append(entries[:1], entries...)
	}
	if len(entries) == 0 {
		markEmptyPage(w)
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": entries, "@nextPage": next, "isCaughtUp": caughtUp})
}

func (s *Server) siemURLTTL() time.Duration {
	if s.opts.SIEMURLTTL > 0 {
		return s.opts.SIEMURLTTL
	}
	return 15 * time.Minute
}

// estimateFileSize approximates a file's compressed size without generating it; the listing's
// size is informational (clients do not check it against Content-Length).
func estimateFileSize(f siemFile) int { return 64 + (f.end-f.start)*180 }

// siemBatchPage lists up to size files of types, type by type, starting at cur. A type the
// token does not hold starts at dateRangeStartsAt, or at the start of the 7-day retention; positions
// older than the retention move up to it. A type is caught up when its next file does not exist
// yet or starts at or after endMs; the page is caught up when every type is.
func (s *Server) siemBatchPage(types []int, cur siemCursor, startMs, endMs int64, size int, nowMs int64) ([]siemFile, siemCursor, bool) {
	f := s.siemFeed()
	avail := f.available(nowMs)
	files := make([]siemFile, 0, size)
	caughtUp := true
	for _, ti := range types {
		c := cur[ti]
		retained := f.firstAtOrAfter(ti, nowMs-siemRetention.Milliseconds(), avail)
		if c < 0 && startMs > 0 {
			c = f.firstAtOrAfter(ti, startMs, avail)
		}
		c = max(c, retained)
		endIdx := -1
		if endMs > 0 {
			endIdx = f.firstAtOrAfter(ti, endMs, avail)
		}
		for {
			file, ok := f.fileFrom(ti, c, nowMs)
			if ok && endIdx >= 0 {
				file.end = min(file.end, endIdx)
				ok = file.start < file.end
			}
			if !ok {
				break
			}
			if len(files) == size {
				caughtUp = false
				break
			}
			files = append(files, file)
			c = file.end
		}
		cur[ti] = c
		if !caughtUp {
			break
		}
	}
	return files, cur, caughtUp
}

// siemStream serves GET /siem/v1/events/cg (Mimecast API 2.0): events inline with eventType/subType
// naming, merged across types in time order, within the last 24 hours.
func (s *Server) siemStream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := s.now()
	nowMs := now.UnixMilli()
	retentionMs := nowMs - siemStreamRetention.Milliseconds()

	types := make([]int, 0, len(siemTypes))
	for _, v := range append(q["types"], q["type"]...) {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			ti := siemTypeIndex(name)
			if ti < 0 {
				writeSIEMError(w, http.StatusBadRequest, siemValidation, fmt.Sprintf("Invalid type %q", name))
				return
			}
			types = append(types, ti)
		}
	}
	if len(types) == 0 {
		for ti := range siemTypes {
			types = append(types, ti)
		}
	}
	size, err := siemPageSize(q)
	if err != nil {
		writeSIEMError(w, http.StatusBadRequest, siemValidation, err.Error())
		return
	}
	startMs, endMs := retentionMs, nowMs
	if v := q.Get("dateRangeStartsAt"); v != "" {
		t, err := parseSIEMTime(v)
		if err != nil {
			writeSIEMError(w, http.StatusBadRequest, siemValidation, fmt.Sprintf("Invalid dateRangeStartsAt %q: expected e.g. %s", v, siemTimeLayout))
			return
		}
		if t.UnixMilli() < retentionMs {
			writeSIEMError(w, http.StatusBadRequest, siemValidation, "Invalid date range: 'from' must be within the 24-hour retention period")
			return
		}
		startMs = t.UnixMilli()
	}
	if v := q.Get("dateRangeEndsAt"); v != "" {
		t, err := parseSIEMTime(v)
		if err != nil {
			writeSIEMError(w, http.StatusBadRequest, siemValidation, fmt.Sprintf("Invalid dateRangeEndsAt %q: expected e.g. %s", v, siemTimeLayout))
			return
		}
		endMs = min(t.UnixMilli(), nowMs)
	}
	if endMs < startMs {
		writeSIEMError(w, http.StatusBadRequest, siemValidation, "Invalid date range: 'to' is before 'from'")
		return
	}
	cur := newSIEMCursor()
	if tok := q.Get("nextPage"); tok != "" {
		c, ok := parseSIEMCursor("cg-stream", tok)
		if !ok {
			writeSIEMError(w, http.StatusBadRequest, siemValidation, "Invalid nextPage token")
			return
		}
		cur = c
	}

	f := s.siemFeed()
	avail := f.available(nowMs)
	// Stop at the first event after endMs; start where the token says, at dateRangeStartsAt on
	// the first page, and never before the 24-hour retention.
	var limit siemCursor
	for _, ti := range types {
		limit[ti] = f.firstAtOrAfter(ti, endMs+1, avail)
		first := f.firstAtOrAfter(ti, retentionMs, avail)
		if cur[ti] < 0 {
			first = f.firstAtOrAfter(ti, startMs, avail)
		}
		cur[ti] = max(cur[ti], first)
	}
	events := getJSONOut()
	defer putJSONOut(events)
	var ev siemEvent
	count := 0
	for count < size {
		best, bestTs := -1, int64(0)
		for _, ti := range types {
			if cur[ti] >= limit[ti] {
				continue
			}
			if ts := f.eventTime(ti, cur[ti]); best < 0 || ts < bestTs {
				best, bestTs = ti, ts
			}
		}
		if best < 0 {
			break
		}
		s.fillSIEMEvent(&ev, f, best, cur[best])
		// The stream names type and subtype eventType and subType (seen in integrators' samples: the naming
		// differs between the two variants).
		ev.move(skType, skEventType)
		ev.move(skSubtype, skSubTypeStream)
		events.sep()
		events.b = ev.appendTo(events.b)
		count++
		cur[best]++
	}
	caughtUp := true
	for _, ti := range types {
		caughtUp = caughtUp && cur[ti] >= limit[ti]
	}
	tok := cur.token("cg-stream")
	if count == 0 {
		markEmptyPage(w)
	}
	// The body was a map: members in key order.
	o := getJSONOut()
	defer putJSONOut(o)
	o.b = append(o.b, '{')
	o.str("@nextLink", tok)
	o.str("@nextPage", tok)
	o.boolean("isCaughtUp", caughtUp)
	o.num("pageSize", count)
	o.array("value")
	o.b = append(o.b, events.b...)
	o.endArray()
	o.b = append(o.b, '}', '\n')
	writeJSONBytes(w, http.StatusOK, o.b)
}

// parseSIEMTime accepts the documented 2006-01-02T15:04:05.000Z and any RFC 3339 time.
func parseSIEMTime(v string) (time.Time, error) {
	if t, err := time.Parse(siemTimeLayout, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing SIEM time: %w", err)
	}
	return t, nil
}
