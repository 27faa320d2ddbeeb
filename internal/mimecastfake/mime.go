package mimecastfake

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// Archive messages are real RFC 822 messages generated from (seed, mailbox, n). A message is
// described by an archMsg (cheap: addresses, subject, attachment sizes) and rendered on demand
// into a mimeSink. Attachment bytes are never stored: they are a deterministic pattern produced
// while streaming, so a 5 MB attachment costs a few KB of memory however often it is served.

// Kinds for detHash; each derived value has its own so that changing one never shifts another.
const (
	kindMsg uint64 = iota + 1
	kindMsgTime
	kindAttSize
	kindAttBytes
	kindMsgID
	kindSIEMTime
	kindSIEMEvent
	kindSIEMSign
)

// mix64 is the splitmix64 finaliser: a cheap, allocation-free bijective mixer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// detHash derives a stable value from the seed, a kind and up to three indices. Unlike
// tenant.hash it does not allocate, which matters on per-event and per-byte paths.
func detHash(seed int64, kind uint64, a, b, c int) uint64 {
	h := mix64(uint64(seed) + 0x9e3779b97f4a7c15*kind)
	h = mix64(h ^ uint64(a))
	h = mix64(h ^ uint64(b)*0xff51afd7ed558ccd)
	return mix64(h ^ uint64(c)*0xc4ceb9fe1a85ec53)
}

// Variants cover the MIME features a client must cope with; a mailbox with at least
// msgVariants messages holds each of them once.
const (
	variantAlternative   = iota // text+html, ASCII subject, no attachment
	variantUTF8Subject          // B-encoded UTF-8 subject, one PDF
	variantTwoAttachment        // DOCX + ZIP
	variantEmptySubject         // empty Subject header, no attachment
	variantLatin1Subject        // Q-encoded ISO-8859-1 subject, PDF with an RFC 2231 file name
	variantNested               // mixed{mixed{alternative, pdf}, zip}
	variantUTF8QSubject         // Q-encoded UTF-8 subject (CJK + emoji), DOCX with a non-ASCII name
	variantPlainOnly            // a single text/plain part
	msgVariants
)

// LargeAttachmentBytes is the size of the "large" attachments (Sizes.LargeAttachmentPct).
const LargeAttachmentBytes = 5 << 20

type address struct {
	Name  string `json:"displayableName"`
	Email string `json:"emailAddress"`
}

func (a address) header() string { return (&mail.Address{Name: a.Name, Address: a.Email}).String() }

// attachment describes one generated file; its bytes come from attReader.
type attachment struct {
	part        int // 1-based index, encoded in the attachment id
	filename    string
	contentType string
	ext         string
	size        int
	key         uint64 // seed of the byte pattern
	rfc2231Name bool   // file name sent as filename*=UTF-8''… (and an RFC 2047 name= parameter)
}

// attKinds are the file types attachments are drawn from; prefix/suffix make them sniff right.
var attKinds = map[string]struct{ contentType, prefix, suffix string }{
	"pdf":  {"application/pdf", "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nstream\n", "\nendstream\nendobj\n%%EOF\n"},
	"docx": {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml", "PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00"},
	"zip":  {"application/zip", "PK\x03\x04\x0a\x00\x00\x00\x00\x00", "PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00"},
}

// archMsg is everything about a message except its rendered bytes.
type archMsg struct {
	m, n     int
	sent     bool // in the mailbox's SENT view: the mailbox owner is the sender
	from     address
	to       []address
	cc       []address
	subject  string // decoded
	subjHdr  string // as written in the Subject header
	received time.Time
	variant  int
	atts     []attachment
	bodyText string
	bodyHTML string // "" for variantPlainOnly
	seed     int64
	msgID    string
}

var (
	asciiSubjects = []string{"Quarterly report", "Invoice %d for approval", "Meeting notes", "Project update #%d",
		"Re: lunch on Friday?", "Shipping confirmation %d", "Action required: password expiry", "Fwd: contract draft"}
	externalNames = []string{"José Müller", "Priya Natarajan", "Olivier Lefèvre", "Mei Lin", "Sam O'Neil", ""}
)

// buildMessage describes message n of mailbox owner (global mailbox index m).
func buildMessage(seed int64, owner user, m, n int, received time.Time, msgID string, sz Sizes) archMsg {
	msg := messageHead(seed, owner, m, n, received, msgID, sz)
	_, msg.subjHdr = messageSubject(seed, m, n)
	greet := msg.to[0].Name
	if greet == "" {
		greet = msg.to[0].Email
	}
	link := fmt.Sprintf("https://portal.example.net/doc/%d/%d", m, n)
	msg.bodyText = fmt.Sprintf("Hello %s,\n\nThis is archived message %d of mailbox %s.\nSubject: %s\nDetails: %s\n\nRegards,\n%s",
		greet, n+1, owner.Email, msg.subject, link, fallback(msg.from.Name, msg.from.Email))
	if msg.variant != variantPlainOnly {
		msg.bodyHTML = fmt.Sprintf("<html><body><p>Hello %s,</p><p>This is archived message %d of mailbox %s.</p>"+
			"<p><a href=\"%s\">Details</a></p><p>Regards,<br>%s</p></body></html>",
			htmlEscape(greet), n+1, owner.Email, link, htmlEscape(fallback(msg.from.Name, msg.from.Email)))
	}
	return msg
}

// messageSent reports whether message n of a mailbox is in its SENT view (the owner sent it).
func messageSent(n int) bool { return n%5 == 4 }

// messageVariant is the MIME variant of message n of mailbox m.
func messageVariant(m, n int) int { return (m + n) % msgVariants }

// variantHasAttachments reports whether messages of variant v carry attachments, so an alert
// can choose its message without describing the ones it passes over.
func variantHasAttachments(v int) bool {
	switch v {
	case variantUTF8Subject, variantTwoAttachment, variantLatin1Subject, variantNested, variantUTF8QSubject:
		return true
	}
	return false
}

// messageHead describes message n of mailbox owner without its bodies and encoded Subject
// header: everything the alert feeds quote about a message, at a fraction of the cost of
// buildMessage, which completes it.
func messageHead(seed int64, owner user, m, n int, received time.Time, msgID string, sz Sizes) archMsg {
	h := detHash(seed, kindMsg, m, n, 0)
	msg := archMsg{m: m, n: n, received: received, variant: messageVariant(m, n), seed: seed, msgID: msgID}
	msg.sent = messageSent(n)
	ext := address{
		Name:  externalNames[h%uint64(len(externalNames))],
		Email: "partner" + strconv.FormatUint((h>>8)%50, 10) + "@external" + strconv.FormatUint((h>>16)%4, 10) + ".example.net",
	}
	me := address{Name: owner.Name, Email: owner.Email}
	if msg.sent {
		msg.from, msg.to = me, []address{ext}
	} else {
		msg.from, msg.to = ext, []address{me}
	}
	if (h>>24)%3 == 0 {
		msg.cc = []address{{Name: "Shared Inbox", Email: "shared@" + owner.Domain}}
	}

	msg.subject = messageSubjectText(seed, m, n)

	addAtt := func(kind, name string, rfc2231 bool) {
		p := len(msg.atts) + 1
		msg.atts = append(msg.atts, attachment{
			part: p, filename: name, contentType: attKinds[kind].contentType, ext: kind,
			size: attachmentSize(seed, m, n, p, kind, sz), key: detHash(seed, kindAttBytes, m, n, p), rfc2231Name: rfc2231,
		})
	}
	num := strconv.Itoa(n + 1)
	switch msg.variant {
	case variantUTF8Subject:
		addAtt("pdf", "invoice-"+num+".pdf", false)
	case variantTwoAttachment:
		msg.atts = make([]attachment, 0, 2)
		addAtt("docx", "report-"+num+".docx", false)
		addAtt("zip", "archive-"+num+".zip", false)
	case variantLatin1Subject:
		addAtt("pdf", "Résumé – 2024.pdf", true)
	case variantNested:
		msg.atts = make([]attachment, 0, 2)
		addAtt("pdf", "scan-"+num+".pdf", false)
		addAtt("zip", "logs-"+num+".zip", false)
	case variantUTF8QSubject:
		addAtt("docx", "会议纪要.docx", true)
	}
	return msg
}

// messageSubject is the decoded subject of message n of mailbox m and its Subject header as
// written (RFC 2047 encoded words for the non-ASCII variants). SIEM events quote it too.
func messageSubject(seed int64, m, n int) (subject, header string) {
	subject = messageSubjectText(seed, m, n)
	switch messageVariant(m, n) {
	case variantUTF8Subject:
		return subject, mime.BEncoding.Encode("UTF-8", subject)
	case variantLatin1Subject:
		return subject, mime.QEncoding.Encode("ISO-8859-1", latin1(subject))
	case variantUTF8QSubject:
		return subject, mime.QEncoding.Encode("UTF-8", subject)
	}
	return subject, subject
}

// messageSubjectText is the decoded subject alone (see messageSubject).
func messageSubjectText(seed int64, m, n int) string {
	h := detHash(seed, kindMsg, m, n, 0)
	plain := asciiSubjects[(h>>32)%uint64(len(asciiSubjects))]
	// Only the plain subjects carry a number; the CJK one embeds a plain one.
	plain = strings.Replace(plain, "%d", strconv.Itoa(n+1), 1)
	switch messageVariant(m, n) {
	case variantUTF8Subject:
		return "Rechnung für März – Überprüfung nötig"
	case variantLatin1Subject:
		return "Café déjà vu à Zürich"
	case variantUTF8QSubject:
		return "会议纪要 📎 " + plain
	case variantEmptySubject:
		return ""
	}
	return plain
}

func attachmentSize(seed int64, m, n, p int, kind string, sz Sizes) int {
	h := detHash(seed, kindAttSize, m, n, p)
	if int(h%100) < sz.LargeAttachmentPct {
		return LargeAttachmentBytes
	}
	base := sz.AttachmentBytes
	size := base*3/4 + int((h>>8)%uint64(base/2+1)) // ±25 % around AttachmentBytes
	k := attKinds[kind]
	return max(size, len(k.prefix)+len(k.suffix)+1)
}

func fallback(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

func htmlEscape(s string) string { return htmlEscaper.Replace(s) }

// latin1 converts s (which must only hold code points < 256) to ISO-8859-1 bytes.
func latin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// mimePart is one node of the MIME tree: a text leaf, an attachment leaf or a multipart.
type mimePart struct {
	headers  [][2]string
	text     string      // encoded body of a text leaf
	att      *attachment // attachment leaf
	boundary string
	children []*mimePart
}

// mimeSink receives a rendered message: literal text, and attachments that the sink either
// encodes (writer) or only measures (counter).
type mimeSink interface {
	literal(s string)
	attachment(a *attachment)
}

func textPart(ctype, body string) *mimePart {
	var b strings.Builder
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(body))
	_ = qp.Close()
	return &mimePart{
		headers: [][2]string{{"Content-Type", ctype + "; charset=utf-8"}, {"Content-Transfer-Encoding", "quoted-printable"}},
		text:    b.String(),
	}
}

func attPart(a *attachment) *mimePart {
	ctParams := map[string]string{"name": a.filename}
	if a.rfc2231Name {
		// What Outlook does: an RFC 2047 word in name= for old readers, RFC 2231 in filename*.
		ctParams["name"] = mime.BEncoding.Encode("UTF-8", a.filename)
	}
	return &mimePart{
		headers: [][2]string{
			{"Content-Type", mime.FormatMediaType(a.contentType, ctParams)},
			{"Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.filename})},
			{"Content-Transfer-Encoding", "base64"},
		},
		att: a,
	}
}

func (msg *archMsg) boundary(depth int) string {
	return fmt.Sprintf("----=_Part_%d_%08x", depth, detHash(msg.seed, kindMsg, msg.m, msg.n, 100+depth)>>32)
}

func (msg *archMsg) multipart(sub string, depth int, children ...*mimePart) *mimePart {
	b := msg.boundary(depth)
	return &mimePart{
		headers:  [][2]string{{"Content-Type", mime.FormatMediaType("multipart/"+sub, map[string]string{"boundary": b})}},
		boundary: b, children: children,
	}
}

// tree builds the MIME structure of the message's variant.
func (msg *archMsg) tree() *mimePart {
	if msg.variant == variantPlainOnly {
		return textPart("text/plain", msg.bodyText)
	}
	alternative := func(depth int) *mimePart {
		return msg.multipart("alternative", depth, textPart("text/plain", msg.bodyText), textPart("text/html", msg.bodyHTML))
	}
	if len(msg.atts) == 0 {
		return alternative(1)
	}
	alt := alternative(2)
	if msg.variant == variantNested {
		inner := msg.multipart("mixed", 3, alt, attPart(&msg.atts[0]))
		return msg.multipart("mixed", 1, inner, attPart(&msg.atts[1]))
	}
	kids := []*mimePart{alt}
	for i := range msg.atts {
		kids = append(kids, attPart(&msg.atts[i]))
	}
	return msg.multipart("mixed", 1, kids...)
}

// headers are the top-level message headers, in order, without the root part's.
func (msg *archMsg) headers() [][2]string {
	relay := fmt.Sprintf("from mx%d.external.example.net (mx.external.example.net [198.51.100.%d]) by us-smtp-inbound-1.mimecast.lan with ESMTPS id %x; %s",
		msg.n%3, 10+msg.m%200, detHash(msg.seed, kindMsg, msg.m, msg.n, 7)>>40, msg.received.Add(-time.Second).Format(time.RFC1123Z))
	first := fmt.Sprintf("from us-smtp-inbound-1.mimecast.lan by mail.fake-mimecast.test with LMTP; %s", msg.received.Format(time.RFC1123Z))
	h := [][2]string{
		{"Received", first},
		{"Received", relay},
		{"From", msg.from.header()},
		{"To", joinAddrs(msg.to)},
	}
	if len(msg.cc) > 0 {
		h = append(h, [2]string{"Cc", joinAddrs(msg.cc)})
	}
	h = append(h,
		[2]string{"Subject", msg.subjHdr},
		[2]string{"Date", msg.headerDate().Format(time.RFC1123Z)},
		[2]string{"Message-ID", msg.msgID},
		[2]string{"MIME-Version", "1.0"},
		[2]string{"X-Mailer", "fake-mimecast archive generator"},
	)
	return h
}

func (msg *archMsg) headerDate() time.Time { return msg.received.Add(-3 * time.Second) }

func joinAddrs(as []address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.header()
	}
	return strings.Join(s, ", ")
}

// render writes the whole message to sink.
func (msg *archMsg) render(sink mimeSink) {
	root := msg.tree()
	writeHeaders(sink, msg.headers())
	renderPart(sink, root, true)
	sink.literal("\r\n")
}

func writeHeaders(sink mimeSink, hs [][2]string) {
	for _, h := range hs {
		if h[1] == "" {
			sink.literal(h[0] + ":\r\n")
			continue
		}
		sink.literal(h[0] + ": " + h[1] + "\r\n")
	}
}

// renderPart writes p's headers, a blank line and its body. Bodies never end in CRLF: the CRLF
// before the next boundary belongs to the delimiter (RFC 2046 §5.1.1).
func renderPart(sink mimeSink, p *mimePart, top bool) {
	writeHeaders(sink, p.headers)
	sink.literal("\r\n")
	switch {
	case p.att != nil:
		sink.attachment(p.att)
	case p.children != nil:
		if top {
			sink.literal("This is a multi-part message in MIME format.\r\n")
		}
		for _, c := range p.children {
			sink.literal("--" + p.boundary + "\r\n")
			renderPart(sink, c, false)
			sink.literal("\r\n")
		}
		sink.literal("--" + p.boundary + "--")
	default:
		sink.literal(p.text)
	}
}

// size is the exact byte length of the rendered message, computed without encoding attachments.
func (msg *archMsg) size() int {
	var c countSink
	msg.render(&c)
	return c.n
}

type countSink struct{ n int }

func (c *countSink) literal(s string)         { c.n += len(s) }
func (c *countSink) attachment(a *attachment) { c.n += base64LinesLen(a.size) }

// base64LinesLen is the length of n bytes in base64 with 76-column CRLF-separated lines and no
// final CRLF.
func base64LinesLen(n int) int {
	l := base64.StdEncoding.EncodedLen(n)
	if l == 0 {
		return 0
	}
	return l + 2*((l-1)/76)
}

// writeSink streams the message to w; the first write error is kept and later writes skipped.
type writeSink struct {
	w   *bufio.Writer
	err error
}

func (s *writeSink) literal(str string) {
	if s.err == nil {
		_, s.err = s.w.WriteString(str)
	}
}

func (s *writeSink) attachment(a *attachment) {
	if s.err != nil {
		return
	}
	lw := &lineWrapper{w: s.w}
	enc := base64.NewEncoder(base64.StdEncoding, lw)
	if _, err := io.Copy(enc, newAttReader(a)); err != nil {
		s.err = err
		return
	}
	s.err = enc.Close()
	if s.err == nil {
		s.err = lw.err
	}
}

// writeMessage streams the RFC 822 bytes of msg to w.
func writeMessage(w io.Writer, msg *archMsg) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	sink := &writeSink{w: bw}
	msg.render(sink)
	if sink.err != nil {
		return fmt.Errorf("writing message: %w", sink.err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing message: %w", err)
	}
	return nil
}

// lineWrapper inserts CRLF every 76 bytes, but never after the last byte.
type lineWrapper struct {
	w   io.Writer
	col int
	err error
}

var crlf = []byte("\r\n")

func (l *lineWrapper) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 && l.err == nil {
		if l.col == 76 {
			_, l.err = l.w.Write(crlf)
			l.col = 0
			continue
		}
		k := min(76-l.col, len(p))
		_, l.err = l.w.Write(p[:k])
		l.col += k
		p = p[k:]
	}
	if l.err != nil {
		return 0, l.err
	}
	return total, nil
}

// attReader produces an attachment's bytes: the kind's magic prefix, a seeded pseudo-random
// filler (incompressible, like real PDFs and archives) and the kind's suffix.
type attReader struct {
	a              *attachment
	prefix, suffix string
	off            int
}

func newAttReader(a *attachment) *attReader {
	k := attKinds[a.ext]
	return &attReader{a: a, prefix: k.prefix, suffix: k.suffix}
}

func (r *attReader) Read(p []byte) (int, error) {
	size := r.a.size
	if r.off >= size {
		return 0, io.EOF
	}
	n := min(len(p), size-r.off)
	fillEnd := size - len(r.suffix)
	var word uint64
	wordIdx := -1
	for i := 0; i < n; i++ {
		off := r.off + i
		switch {
		case off < len(r.prefix):
			p[i] = r.prefix[off]
		case off >= fillEnd:
			p[i] = r.suffix[off-fillEnd]
		default:
			if w := off >> 3; w != wordIdx {
				wordIdx, word = w, mix64(r.a.key^uint64(w)*0x9e3779b97f4a7c15)
			}
			p[i] = byte(word >> (8 * (off & 7)))
		}
	}
	r.off += n
	return n, nil
}
