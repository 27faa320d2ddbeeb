package mimecastfake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (s *Server) routesArchive() {
	s.handleAPI("/api/archive/search", ProductArchive, s.archiveSearch)
	s.handleAPI("/api/archive/get-message-list", ProductArchive, s.archiveMessageList)
	s.handleAPI("/api/archive/get-message-detail", ProductArchive, s.archiveMessageDetail)
	s.handleAPI("/api/archive/get-message-part", ProductContentView, s.archiveMessagePart)
	s.handleAPI("/api/archive/get-file", ProductContentView, s.archiveFile)
}

// searchItem is one result of /api/archive/search (as in XSOAR's test fixtures).
type searchItem struct {
	ID                   string    `json:"id"`
	Subject              string    `json:"subject"`
	DisplayFrom          string    `json:"displayfrom"`
	DisplayFromAddress   string    `json:"displayfromaddress"`
	DisplayTo            string    `json:"displayto"`
	DisplayToAddressList []address `json:"displaytoaddresslist"`
	ReceivedDate         string    `json:"receiveddate"`
	Size                 int       `json:"size"`
	AttachmentCount      int       `json:"attachmentcount"`
	Status               string    `json:"status"`
	Smash                string    `json:"smash"`
}

// listItem is one element of /api/archive/get-message-list's flat data list.
type listItem struct {
	ID              string    `json:"id"`
	Subject         string    `json:"subject"`
	Size            int       `json:"size"`
	Received        string    `json:"received"`
	From            address   `json:"from"`
	To              []address `json:"to"`
	AttachmentCount int       `json:"attachmentCount"`
	Status          string    `json:"status"`
}

// xmlQuery is the part of the archive search XML the fake understands.
type xmlQuery struct {
	XMLName  xml.Name `xml:"xmlquery"`
	Metadata struct {
		PageSize  string   `xml:"page-size,attr"`
		StartRow  string   `xml:"startrow,attr"`
		Mailboxes []string `xml:"mailboxes>mailbox"`
	} `xml:"metadata"`
	Muse struct {
		Text string `xml:"text"`
		Date []struct {
			Select string `xml:"select,attr"`
			From   string `xml:"from,attr"`
			To     string `xml:"to,attr"`
		} `xml:"date"`
		Sent []struct {
			Select string `xml:"select,attr"`
			Value  string `xml:",chardata"`
		} `xml:"sent"`
	} `xml:"muse"`
}

// archiveFilter is a parsed search: which mailboxes, which dates, which words.
type archiveFilter struct {
	mailboxes []int
	from, to  time.Time
	text      string
	sentFrom  string
	sentTo    string
	view      string // get-message-list: INBOX or SENT
}

func (f *archiveFilter) match(msg *archMsg) bool {
	if f.text != "" && !strings.Contains(strings.ToLower(msg.subject), f.text) {
		return false
	}
	if f.sentFrom != "" && !strings.Contains(strings.ToLower(msg.from.Email), f.sentFrom) {
		return false
	}
	if f.sentTo != "" {
		hit := false
		for _, a := range msg.to {
			hit = hit || strings.Contains(strings.ToLower(a.Email), f.sentTo)
		}
		if !hit {
			return false
		}
	}
	switch f.view {
	case "INBOX":
		return !msg.sent
	case "SENT":
		return msg.sent
	}
	return true
}

// archiveCursor is the opaque next token of archive lists: resume at message n of mailbox m
// (n = -1 means "from the first in the scan's order"); last is the previous page's final
// record, kept for the DuplicateAcrossPages fault.
type archiveCursor struct {
	m, n         int
	lastM, lastN int
}

func (c archiveCursor) token() string { return packInts('A', c.m, c.n, c.lastM, c.lastN) }

func parseArchiveCursor(tok string) (archiveCursor, bool) {
	v, ok := unpackInts('A', tok, 4)
	if !ok {
		return archiveCursor{}, false
	}
	return archiveCursor{m: v[0], n: v[1], lastM: v[2], lastN: v[3]}, true
}

// scanArchiveLocked walks the messages of f.mailboxes matching f, mailbox by mailbox and newest first
// within a mailbox (oldest first under ListOrderOldest), from cur; it returns up to limit matches
// and the cursor after them (more false when the scan reached the end). skip matches are passed
// over first (XML startrow paging).
func (s *Server) scanArchiveLocked(f *archiveFilter, cur archiveCursor, limit, skip int) (out []archiveRef, next archiveCursor, more bool) {
	oldest := s.Faults().ListOrder == ListOrderOldest
	for _, m := range f.mailboxes {
		if m < cur.m || !s.mailboxActiveLocked(m) {
			continue
		}
		lo, hi := s.messageRangeLocked(m, f.from, f.to)
		start, end, step := hi-1, lo-1, -1
		if oldest {
			start, end, step = lo, hi, 1
		}
		if m == cur.m && cur.n >= 0 {
			if oldest {
				start = max(start, cur.n)
			} else {
				start = min(start, cur.n)
			}
		}
		for n := start; (step > 0 && n < end) || (step < 0 && n > end); n += step {
			if s.archive.removedMessages[[2]int{m, n}] {
				continue
			}
			if len(out) == limit {
				return out, archiveCursor{m: m, n: n}, true
			}
			msg := s.messageLocked(m, n)
			if !f.match(&msg) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			out = append(out, archiveRef{m: m, n: n})
		}
	}
	return out, archiveCursor{}, false
}

// takeArchivePageLocked resolves the page after tok and applies DuplicateAcrossPages.
func (s *Server) takeArchivePageLocked(f *archiveFilter, tok string, size, startRow int) ([]archiveRef, string, error) {
	cur := archiveCursor{n: -1, lastM: -1}
	if tok != "" {
		c, ok := parseArchiveCursor(tok)
		if !ok {
			return nil, "", errBadPageToken
		}
		cur, startRow = c, 0
	}
	refs, next, more := s.scanArchiveLocked(f, cur, size, startRow)
	if tok != "" && cur.lastM >= 0 && s.messageExistsLocked(cur.lastM, cur.lastN) && s.duplicateAcrossPages() {
		refs = append([]archiveRef{{m: cur.lastM, n: cur.lastN}}, refs...)
	}
	if !more || len(refs) == 0 {
		return refs, "", nil
	}
	last := refs[len(refs)-1]
	next.lastM, next.lastN = last.m, last.n
	return refs, next.token(), nil
}

// archiveSearch serves POST /api/archive/search: data[0] {admin, query (XML)}.
func (s *Server) archiveSearch(w http.ResponseWriter, r *http.Request, req *apiRequest) {
	var item struct {
		Admin bool   `json:"admin"`
		Query string `json:"query"`
	}
	raw, ok := decodeItem(w, req, &item)
	if !ok {
		return
	}
	if strings.TrimSpace(item.Query) == "" {
		writeFieldFail(w, raw, errCodeMissingField, "query", "query is required")
		return
	}
	var q xmlQuery
	if err := xml.Unmarshal([]byte(item.Query), &q); err != nil {
		writeFieldFail(w, raw, errCodeInvalidValue, "query", "The XML query could not be parsed: "+err.Error())
		return
	}
	now := s.now()
	f := archiveFilter{text: strings.ToLower(strings.TrimSpace(q.Muse.Text))}
	if i := strings.Index(f.text, "subject:"); i >= 0 {
		f.text = strings.TrimSpace(f.text[i+len("subject:"):])
	}
	for _, d := range q.Muse.Date {
		var err error
		if f.from, f.to, err = searchDateRange(d.Select, d.From, d.To, now); err != nil {
			writeFieldFail(w, raw, errCodeInvalidDate, "query", err.Error())
			return
		}
	}
	for _, sent := range q.Muse.Sent {
		switch strings.ToLower(sent.Select) {
		case "from":
			f.sentFrom = strings.ToLower(strings.TrimSpace(sent.Value))
		case "to":
			f.sentTo = strings.ToLower(strings.TrimSpace(sent.Value))
		}
	}
	// meta.pagination wins; the XML page-size/startrow are what 1.0-era clients page with.
	size, err := parsePageSize(req.Meta.Pagination.PageSize, defaultPageSize, maxPageSize)
	if err != nil {
		writeFieldFail(w, raw, errCodeInvalidValue, "pageSize", err.Error())
		return
	}
	if req.Meta.Pagination.PageSize == "" {
		if n, err := strconv.Atoi(q.Metadata.PageSize); err == nil && n > 0 {
			size = min(n, maxPageSize)
		}
	}
	startRow, _ := strconv.Atoi(q.Metadata.StartRow)

	s.archive.mu.RLock()
	switch {
	case len(q.Metadata.Mailboxes) > 0:
		for _, mb := range q.Metadata.Mailboxes {
			if m, ok := s.mailboxIndexLocked(mb); ok {
				f.mailboxes = append(f.mailboxes, m)
			}
		}
		slices.Sort(f.mailboxes)
		f.mailboxes = slices.Compact(f.mailboxes)
	case item.Admin:
		f.mailboxes = s.activeMailboxesLocked()
	default:
		// A non-admin search covers the caller's own mailbox; an API application has none.
	}
	refs, next, err := s.takeArchivePageLocked(&f, req.Meta.Pagination.PageToken, size, max(startRow, 0))
	items := make([]searchItem, 0, len(refs))
	for _, ref := range refs {
		msg := s.messageLocked(ref.m, ref.n)
		items = append(items, s.searchItem(&msg))
	}
	s.archive.mu.RUnlock()
	if err != nil {
		writeFieldFail(w, raw, errCodePageToken, "pageToken", "The page token is invalid")
		return
	}
	if tok := req.Meta.Pagination.PageToken; tok != "" {
		if s.takeFault(faultRefusePageTokens) {
			writeFieldFailStatus(w, http.StatusBadRequest, raw, errCodePageToken, "pageToken", "The page token has expired")
			return
		}
		if back := s.cycleBack("archive|"+item.Query, tok); back != "" {
			next = back
		}
	}
	if s.Faults().ListOrder == ListOrderShuffled {
		// The search promises no order: within a page neither.
		rng := rand.New(rand.NewPCG(uint64(len(items)), uint64(s.opts.Seed)))
		rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	}

	var data any = []any{map[string]any{"items": items, "queryDuration": 3 + len(items)}}
	if s.opts.ArchiveSearchFlat {
		data = items
	}
	writeScanPage(w, data, len(items), next)
}

// writeScanPage writes a page of an archive list. Unlike writeEnvelope it carries no totalCount:
// the archive answers by scanning and does not count (xsoar's search fixture has none either).
func writeScanPage(w http.ResponseWriter, data any, n int, next string) {
	pag := map[string]any{"pageSize": n, "recordStart": 0}
	if next != "" {
		pag["next"] = next
	}
	writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"status": http.StatusOK, "pagination": pag}, "data": data, "fail": []any{}})
}

// searchDateRange reads a <date select=…> element.
func searchDateRange(sel, from, to string, now time.Time) (time.Time, time.Time, error) {
	day := 24 * time.Hour
	switch strings.ToLower(sel) {
	case "between":
		f, err := parseAPITime(from)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("parsing date from: %w", err)
		}
		t, err := parseAPITime(to)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("parsing date to: %w", err)
		}
		return f, t, nil
	case "today":
		return startOfDay(now), time.Time{}, nil
	case "last_day":
		return now.Add(-day), time.Time{}, nil
	case "last_week":
		return now.Add(-7 * day), time.Time{}, nil
	case "last_month":
		return now.AddDate(0, -1, 0), time.Time{}, nil
	case "last_year":
		return now.AddDate(-1, 0, 0), time.Time{}, nil
	}
	return time.Time{}, time.Time{}, nil
}

func (s *Server) searchItem(msg *archMsg) searchItem {
	names := make([]string, len(msg.to))
	for i, a := range msg.to {
		names[i] = fallback(a.Name, a.Email)
	}
	size := msg.size()
	if lie := s.Faults().ArchiveReportedSize; lie > 0 {
		size = lie
	}
	return searchItem{
		ID:                   s.archiveID(msg.m, msg.n, 0),
		Subject:              msg.subject,
		DisplayFrom:          fallback(msg.from.Name, msg.from.Email),
		DisplayFromAddress:   msg.from.Email,
		DisplayTo:            strings.Join(names, "; "),
		DisplayToAddressList: msg.to,
		ReceivedDate:         formatAPITime(msg.received),
		Size:                 size,
		AttachmentCount:      len(msg.atts),
		Status:               "ARCHIVED",
		Smash:                msg.smash(),
	}
}

// smash stands in for Mimecast's content fingerprint of a message.
func (msg *archMsg) smash() string {
	return fmt.Sprintf("%016x%016x", detHash(msg.seed, kindMsg, msg.m, msg.n, 1), detHash(msg.seed, kindMsg, msg.m, msg.n, 2))
}

// archiveMessageList serves POST /api/archive/get-message-list: data[0] {mailbox, view, start, end}.
func (s *Server) archiveMessageList(w http.ResponseWriter, r *http.Request, req *apiRequest) {
	var item struct {
		Mailbox string `json:"mailbox"`
		View    string `json:"view"`
		Start   string `json:"start"`
		End     string `json:"end"`
	}
	raw, ok := decodeItem(w, req, &item)
	if !ok || !checkEnum(w, raw, "view", item.View, "inbox", "sent") {
		return
	}
	if item.Mailbox == "" {
		writeFieldFail(w, raw, errCodeMissingField, "mailbox", "mailbox is required")
		return
	}
	f := archiveFilter{view: strings.ToUpper(item.View)}
	if f.view == "" {
		f.view = "INBOX"
	}
	from, to, ok := checkTimeRange(w, raw, "start", item.Start, "end", item.End, time.Time{}, time.Time{})
	if !ok {
		return
	}
	f.from, f.to = from, to
	size, err := parsePageSize(req.Meta.Pagination.PageSize, defaultPageSize, maxPageSize)
	if err != nil {
		writeFieldFail(w, raw, errCodeInvalidValue, "pageSize", err.Error())
		return
	}
	s.archive.mu.RLock()
	m, found := s.mailboxIndexLocked(item.Mailbox)
	var refs []archiveRef
	var next string
	var items []listItem
	if found {
		f.mailboxes = []int{m}
		refs, next, err = s.takeArchivePageLocked(&f, req.Meta.Pagination.PageToken, size, 0)
		items = make([]listItem, 0, len(refs))
		for _, ref := range refs {
			msg := s.messageLocked(ref.m, ref.n)
			items = append(items, listItem{
				ID: s.archiveID(msg.m, msg.n, 0), Subject: msg.subject, Size: msg.size(),
				Received: formatAPITime(msg.received), From: msg.from, To: msg.to,
				AttachmentCount: len(msg.atts), Status: "ARCHIVED",
			})
		}
	}
	s.archive.mu.RUnlock()
	switch {
	case !found:
		writeFieldFail(w, raw, errCodeMailboxNotFound, "mailbox", "The mailbox does not exist")
	case err != nil:
		writeFieldFail(w, raw, errCodePageToken, "pageToken", "The page token is invalid")
	default:
		writeScanPage(w, items, len(items), next)
	}
}

// resolveMessage finds the message an archive id (of any part) belongs to.
func (s *Server) resolveMessage(id string) (archMsg, archiveRef, bool) {
	ref, ok := s.parseArchiveID(heldArchiveID(id))
	if !ok {
		return archMsg{}, ref, false
	}
	s.archive.mu.RLock()
	defer s.archive.mu.RUnlock()
	if !s.messageExistsLocked(ref.m, ref.n) {
		return archMsg{}, ref, false
	}
	msg := s.messageLocked(ref.m, ref.n)
	if ref.part > len(msg.atts) {
		return archMsg{}, ref, false
	}
	return msg, ref, true
}

type detailAttachment struct {
	ContentType string `json:"contentType"`
	Extension   string `json:"extension"`
	ContentID   string `json:"contentId"`
	Filename    string `json:"filename"`
	BodyType    string `json:"bodyType"`
	SHA256      string `json:"sha256"`
	ID          string `json:"id"`
	Size        int    `json:"size"`
}

type headerValues struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// archiveMessageDetail serves POST /api/archive/get-message-detail: data[] {id}, one result
// per item (Mimecast API docs).
func (s *Server) archiveMessageDetail(w http.ResponseWriter, r *http.Request, req *apiRequest) {
	var item struct {
		ID string `json:"id"`
	}
	raw, ok := decodeItem(w, req, &item)
	if !ok || !requireField(w, raw, "id", item.ID) {
		return
	}
	msg, ref, found := s.resolveMessage(item.ID)
	if !found || ref.part != 0 {
		writeFieldFail(w, raw, errCodeMessageNotFound, "id", "The message could not be found")
		return
	}
	atts := make([]detailAttachment, 0, len(msg.atts))
	for i := range msg.atts {
		a := &msg.atts[i]
		h := sha256.New()
		_, _ = io.Copy(h, newAttReader(a))
		atts = append(atts, detailAttachment{
			ContentType: a.contentType, Extension: a.ext, Filename: a.filename, BodyType: "ATTACHMENT",
			SHA256: hex.EncodeToString(h.Sum(nil)), ID: s.archiveID(msg.m, msg.n, a.part), Size: a.size,
		})
	}
	var headers []headerValues
	idx := map[string]int{}
	for _, h := range msg.headers() {
		if i, ok := idx[h[0]]; ok {
			headers[i].Values = append(headers[i].Values, h[1])
			continue
		}
		idx[h[0]] = len(headers)
		headers = append(headers, headerValues{Name: h[0], Values: []string{h[1]}})
	}
	cc := msg.cc
	if cc == nil {
		cc = []address{}
	}
	writeEnvelope(w, []any{map[string]any{
		"id":            item.ID,
		"status":        "ARCHIVED",
		"smash":         msg.smash(),
		"mimeMessageId": msg.msgID,
		"hasHtmlBody":   msg.bodyHTML != "",
		"attachments":   atts,
		"received":      formatAPITime(msg.received),
		"processed":     formatAPITime(msg.received.Add(2 * time.Second)),
		"headerDate":    formatAPITime(msg.headerDate()),
		"replyTo":       msg.from,
		"from":          msg.from,
		"envelopeFrom":  msg.from,
		"to":            msg.to,
		"cc":            cc,
		"headers":       headers,
		"subject":       msg.subject,
		"size":          msg.size(),
	}}, nil)
}

// archiveMessagePart serves POST /api/archive/get-message-part: data[0] {id, type, context,
// mailbox}. Success is a raw stream; failures are the JSON envelope (Mimecast API docs).
func (s *Server) archiveMessagePart(w http.ResponseWriter, r *http.Request, req *apiRequest) {
	var item struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	raw, ok := decodeItem(w, req, &item)
	if !ok || !requireField(w, raw, "id", item.ID) {
		return
	}
	msg, ref, found := s.resolveMessage(item.ID)
	if !found || ref.part != 0 {
		writeFieldFail(w, raw, errCodeMessageNotFound, "id", "The message could not be found")
		return
	}
	switch strings.ToUpper(item.Type) {
	case "", "RFC822", "TRANSMISSION_MESSAGE_BODY":
		w.Header().Set("Content-Type", "message/rfc822")
		w.Header().Set("Content-Length", strconv.Itoa(msg.size()))
		w.WriteHeader(http.StatusOK)
		_ = writeMessage(w, &msg) // the client sees a short body if the connection fails
	case "PLAIN":
		writeTextPart(w, "text/plain", msg.bodyText)
	case "HTML":
		if msg.bodyHTML == "" {
			writeFieldFail(w, raw, errCodeMessageNotFound, "type", "The message has no HTML body")
			return
		}
		writeTextPart(w, "text/html", msg.bodyHTML)
	default:
		writeFieldFail(w, raw, errCodeInvalidValue, "type", "type must be one of HTML, PLAIN, RFC822, TRANSMISSION_MESSAGE_BODY")
	}
}

// writeTextPart serves a decoded text body with the CRLF line breaks it has in the message.
func writeTextPart(w http.ResponseWriter, ctype, body string) {
	body = strings.ReplaceAll(body, "\n", "\r\n")
	w.Header().Set("Content-Type", ctype+"; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, body)
}

// archiveFile serves POST /api/archive/get-file: data[0] {id} of an attachment → its bytes.
func (s *Server) archiveFile(w http.ResponseWriter, r *http.Request, req *apiRequest) {
	var item struct {
		ID string `json:"id"`
	}
	raw, ok := decodeItem(w, req, &item)
	if !ok || !requireField(w, raw, "id", item.ID) {
		return
	}
	msg, ref, found := s.resolveMessage(item.ID)
	if !found || ref.part == 0 {
		writeFieldFail(w, raw, errCodeMessageNotFound, "id", "The file could not be found")
		return
	}
	a := &msg.atts[ref.part-1]
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.filename}))
	w.Header().Set("Content-Length", strconv.Itoa(a.size))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, newAttReader(a))
}

// Failure codes of the archive content endpoints (modelled on Mimecast's err_* codes).
const (
	errCodeMessageNotFound = "err_message_not_found"
	errCodeMailboxNotFound = "err_mailbox_not_found"
)

// requireField fails the request when a required string field of data[0] is empty.
func requireField(w http.ResponseWriter, key json.RawMessage, field, value string) bool {
	if strings.TrimSpace(value) != "" {
		return true
	}
	writeFieldFail(w, key, errCodeMissingField, field, field+" is required")
	return false
}
