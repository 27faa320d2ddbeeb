package mimecast

import (
	"encoding/xml"
	"strconv"
	"strings"
	"time"
)

// DefaultArchiveReturnFields are the fields ArchiveItem decodes.
var DefaultArchiveReturnFields = []string{
	"id", "subject", "displayfrom", "displayfromaddress", "displayto", "displaytoaddresslist",
	"receiveddate", "size", "attachmentcount", "status", "smash",
}

// ArchiveQuery builds the XML query of /api/archive/search (Mimecast's "Building Search Queries" guide).
type ArchiveQuery struct {
	Mailboxes    []string  // empty = the whole archive (with an admin search)
	From, To     time.Time // received-date range; both zero = no date condition
	Text         string    // free text, e.g. "subject: invoice"
	PageSize     int       // page-size attribute; 0 = 25
	StartRow     int
	ReturnFields []string // nil = DefaultArchiveReturnFields
}

// XML renders the query; every value is escaped.
func (q ArchiveQuery) XML() string {
	pageSize := q.PageSize
	if pageSize <= 0 {
		pageSize = 25
	}
	fields := q.ReturnFields
	if fields == nil {
		fields = DefaultArchiveReturnFields
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><xmlquery trace="iql,muse">`)
	b.WriteString(`<metadata query-type="emailarchive" archive="true" active="false" page-size="`)
	b.WriteString(strconv.Itoa(pageSize))
	b.WriteString(`" startrow="`)
	b.WriteString(strconv.Itoa(max(q.StartRow, 0)))
	b.WriteString(`">`)
	if len(q.Mailboxes) > 0 {
		b.WriteString(`<mailboxes>`)
		for _, m := range q.Mailboxes {
			b.WriteString(`<mailbox include-aliases="true">`)
			escapeXML(&b, m)
			b.WriteString(`</mailbox>`)
		}
		b.WriteString(`</mailboxes>`)
	}
	b.WriteString(`<smartfolders/><return-fields>`)
	for _, f := range fields {
		b.WriteString(`<return-field>`)
		escapeXML(&b, f)
		b.WriteString(`</return-field>`)
	}
	b.WriteString(`</return-fields></metadata><muse>`)
	if q.Text != "" {
		b.WriteString(`<text>`)
		escapeXML(&b, q.Text)
		b.WriteString(`</text>`)
	}
	if !q.From.IsZero() || !q.To.IsZero() {
		from, to := q.From, q.To
		if from.IsZero() {
			from = time.Unix(0, 0)
		}
		if to.IsZero() {
			to = time.Now()
		}
		b.WriteString(`<date select="between" from="`)
		escapeXML(&b, formatAPITime(from))
		b.WriteString(`" to="`)
		escapeXML(&b, formatAPITime(to))
		b.WriteString(`"/>`)
	}
	b.WriteString(`</muse></xmlquery>`)
	return b.String()
}

func escapeXML(b *strings.Builder, s string) {
	_ = xml.EscapeText(b, []byte(s)) // a strings.Builder never fails to write
}
